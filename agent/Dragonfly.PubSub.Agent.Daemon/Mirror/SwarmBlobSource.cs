using System.Collections.Concurrent;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Mirror;
using Grpc.Core;

namespace Dragonfly.PubSub.Agent.Mirror;

/// <summary>
/// The registry mirror's blobs from the swarm. A blob this agent holds (preheated, or pulled
/// before) is served from the content store at once; otherwise its URL is registered with the
/// broker as a content-addressed URL task (task id = the blob digest, so the same layer from any
/// registry is one task) and downloaded through the swarm into the content store, the seed being
/// the only one to read the registry. Concurrent requests for a blob share one download; a client
/// that gives up does not cancel it for the others.
/// </summary>
public sealed class SwarmBlobSource : IBlobSource
{
    private static readonly TimeSpan DownloadTimeout = TimeSpan.FromHours(1);

    private readonly TaskManager _tasks;
    private readonly ILogger<SwarmBlobSource> _logger;
    private readonly CancellationToken _stopping;
    private readonly ConcurrentDictionary<ContentDigest, Lazy<Task<string>>> _downloads = new();

    public SwarmBlobSource(TaskManager tasks, IHostApplicationLifetime lifetime, ILogger<SwarmBlobSource> logger)
    {
        ArgumentNullException.ThrowIfNull(lifetime);
        _tasks = tasks;
        _logger = logger;
        _stopping = lifetime.ApplicationStopping;
    }

    public Task<string> GetBlobPathAsync(BlobRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_tasks.CompletedContentPath(request.Digest) is { } held)
        {
            return Task.FromResult(held);
        }
        Lazy<Task<string>>? download = null;
        download = new Lazy<Task<string>>(() => FetchAsync(request, download!));
        return _downloads.GetOrAdd(request.Digest, download).Value.WaitAsync(ct);
    }

    private async Task<string> FetchAsync(BlobRequest request, Lazy<Task<string>> self)
    {
        try
        {
            await Task.Yield();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping);
            timeout.CancelAfter(DownloadTimeout);
            TaskInfo final;
            try
            {
                final = await _tasks.FetchImageBlobAsync(request.Digest, request.Url, request.Authorization, timeout.Token).ConfigureAwait(false);
            }
            catch (UserFacingException e)
            {
                throw Failed(request, FromRegistration(e), e.Message, e);
            }
            catch (InvalidDataException e)
            {
                throw Failed(request, RegistryErrorKind.BadResponse, e.Message, e);
            }
            catch (OperationCanceledException e) when (!_stopping.IsCancellationRequested)
            {
                var why = timeout.IsCancellationRequested
                    ? $"within {DownloadTimeout.TotalMinutes:0} minutes"
                    : "(its download ended without a final answer)";
                throw Failed(request, RegistryErrorKind.Unavailable, $"blob {request.Digest} was not fetched through the swarm {why}", e);
            }
            if (final.State == TaskStates.Succeeded && final.Path is { } path && File.Exists(path))
            {
                return path;
            }
            var error = final.Error ?? "the download failed";
            throw Failed(request, FromTaskError(TaskErrorKinds.Parse(final.ErrorKind)), $"blob {request.Digest}: {error}");
        }
        finally
        {
            _downloads.TryRemove(KeyValuePair.Create(request.Digest, self));
        }
    }

    private RegistryException Failed(BlobRequest request, RegistryErrorKind kind, string message, Exception? inner = null)
    {
        AgentLog.ImageBlobFailed(_logger, request.ToString(), message);
        return new RegistryException(kind, message, inner);
    }

    /// <summary>What the broker's refusal of RegisterUrlTask means for the registry client: its status, and the origin's answer it names.</summary>
    internal static RegistryErrorKind FromRegistration(UserFacingException e)
    {
        var rpc = e.InnerException as RpcException;
        return (rpc?.StatusCode, SchedulerSession.ErrorKindOf(rpc)) switch
        {
            (StatusCode.NotFound, _) => RegistryErrorKind.NotFound,
            (StatusCode.PermissionDenied, _) => RegistryErrorKind.Denied,
            (_, TaskErrorKind.AccessDenied) => RegistryErrorKind.Unauthorized,
            (StatusCode.FailedPrecondition or StatusCode.InvalidArgument, _) => RegistryErrorKind.BadResponse,
            _ => RegistryErrorKind.Unavailable,
        };
    }

    /// <summary>What a failed swarm download means for the registry client, by the kind the source (or this agent's check) gave it.</summary>
    internal static RegistryErrorKind FromTaskError(TaskErrorKind kind) => kind switch
    {
        TaskErrorKind.DigestMismatch => RegistryErrorKind.DigestMismatch,
        TaskErrorKind.AccessDenied => RegistryErrorKind.Unauthorized,
        TaskErrorKind.NotFound => RegistryErrorKind.NotFound,
        TaskErrorKind.Rejected or TaskErrorKind.SourceChanged => RegistryErrorKind.BadResponse,
        _ => RegistryErrorKind.Unavailable,
    };
}
