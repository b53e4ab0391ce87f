using System.Collections.Concurrent;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>
/// RegisterUrlTask: checks the request, stats the origin once per new task (concurrent requests for the
/// same object share that one stat), derives the piece layout and task id, and hands the task to the
/// <see cref="SwarmCoordinator"/>, which owns it from then on. Thread-safe.
/// </summary>
public sealed partial class UrlTaskRegistrar
{
    private readonly OriginClient _origins;
    private readonly SwarmCoordinator _coordinator;
    private readonly FileOriginPolicy _fileOrigins;
    private readonly S3BucketPolicy _s3Buckets;
    private readonly ILogger<UrlTaskRegistrar> _logger;
    private readonly CancellationToken _stopping;

    // One stat per registration key in flight; the entry goes once the coordinator knows the key.
    private readonly ConcurrentDictionary<string, Lazy<Task<Creation>>> _creating = new(StringComparer.Ordinal);

    /// <summary>
    /// How a shared creation ended: <see cref="Failed"/> (for every request that shared it), or the task the
    /// coordinator created for the request <see cref="For"/>. The others look it up by key, which admits them.
    /// </summary>
    private sealed record Creation(CheckedRequest For, UrlTaskOutcome? Failed, UrlTaskResult? Created);

    /// <param name="stopping">Ends shared stats (no single caller's cancellation may end one).</param>
    /// <param name="fileOrigins">Which file:// URLs are allowed (default: none).</param>
    /// <param name="s3Buckets">Which s3:// buckets are allowed (default: none).</param>
    public UrlTaskRegistrar(OriginClient origins, SwarmCoordinator coordinator, ILogger<UrlTaskRegistrar> logger, CancellationToken stopping = default,
        FileOriginPolicy? fileOrigins = null, S3BucketPolicy? s3Buckets = null)
    {
        _s3Buckets = s3Buckets ?? S3BucketPolicy.None;
        _origins = origins;
        _coordinator = coordinator;
        _fileOrigins = fileOrigins ?? FileOriginPolicy.None;
        _logger = logger;
        _stopping = stopping;
    }

    public async Task<UrlTaskOutcome> RegisterAsync(RegisterUrlTaskRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var checkedRequest = Check(request, out var problem, out var problemKind);
        if (checkedRequest is null)
        {
            BrokerLog.UrlTaskRejected(_logger, RedactedOrNothing(request.Url), problem!);
            return UrlTaskOutcome.Failed(problemKind, problem!);
        }
        if (request.PlacementProbe)
        {
            return await ProbeAsync(checkedRequest, cancellationToken).ConfigureAwait(false);
        }
        try
        {
            var found = await _coordinator.FindUrlTaskAsync(checkedRequest.Key, checkedRequest.ExpectedDigest, cancellationToken,
                checkedRequest.Requester, checkedRequest.Topic).ConfigureAwait(false);
            if (found is not null)
            {
                return Result(checkedRequest, found);
            }
            var creating = _creating.GetOrAdd(checkedRequest.Key, _ => new Lazy<Task<Creation>>(() => CreateAsync(checkedRequest)));
            Creation creation;
            try
            {
                creation = await creating.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (creating.Value.IsCompleted)
                {
                    _creating.TryRemove(KeyValuePair.Create(checkedRequest.Key, creating));
                }
            }
            if (creation.Failed is { } failed)
            {
                return failed;
            }
            if (ReferenceEquals(creation.For, checkedRequest))
            {
                // This request created it: the coordinator's answer is its own. Looking it up again by key
                // would create it once more had it failed meanwhile (a second origin fetch, with the same
                // credentials, of a task already given up).
                return Result(checkedRequest, creation.Created!);
            }
            // Created for another request: found by its key, which admits this one too. Gone already means
            // it failed in between; creating it again would fetch the origin a second time.
            var shared = await _coordinator.FindUrlTaskAsync(checkedRequest.Key, checkedRequest.ExpectedDigest, cancellationToken,
                checkedRequest.Requester, checkedRequest.Topic).ConfigureAwait(false);
            return shared is not null
                ? Result(checkedRequest, shared)
                : UrlTaskOutcome.Failed(UrlTaskErrorKind.Unavailable, $"the task for {checkedRequest.RedactedUrl} failed while it was registered; try again");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return UrlTaskOutcome.Failed(UrlTaskErrorKind.Unavailable, "the broker is stopping; try again once it runs");
        }
    }

    /// <summary>Stat, layout, task id, then the coordinator.</summary>
    private async Task<Creation> CreateAsync(CheckedRequest request)
    {
        await Task.Yield(); // run outside GetOrAdd's factory
        OriginObject stat;
        try
        {
            stat = await _origins.StatAsync(request.Url, request.Options, _stopping).ConfigureAwait(false);
        }
        catch (OriginException e)
        {
            var kind = Map(e.Kind);
            BrokerLog.UrlTaskRejected(_logger, request.RedactedUrl, e.Message);
            return new(request, UrlTaskOutcome.Failed(kind, e.Message) with { Cause = e.Kind.ToTaskErrorKind() }, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not an origin answer: the message may hold anything, so only the type is shown.
            BrokerLog.StatCrashed(_logger, request.RedactedUrl, e.GetType().Name);
            return new(request, UrlTaskOutcome.Failed(UrlTaskErrorKind.Unavailable, $"could not reach {request.RedactedUrl} ({e.GetType().Name}); try again"), null);
        }

        if (stat.Size is not { } size)
        {
            return new(request, Reject(request, UrlTaskErrorKind.FailedPrecondition,
                $"{request.RedactedUrl} does not tell its size; a URL task needs it to cut the object into pieces"), null);
        }
        var layout = PieceLayout.For(size, request.RequestedPieceSize > 0 ? request.RequestedPieceSize : null);
        if (!layout.IsSupported)
        {
            return new(request, Reject(request, UrlTaskErrorKind.InvalidArgument,
                $"{request.RedactedUrl} is {ByteSize.Format(size)}: too many pieces of {ByteSize.Format(layout.PieceSize)}; use a larger piece size"), null);
        }
        var taskId = request.ContentAddressed
            ? request.ExpectedDigest!
            : UrlTaskId.Compute(request.Url, layout.PieceSize, request.Tag, request.FilterParams).ToString();

        var result = await _coordinator.RegisterUrlTaskAsync(new UrlTaskRegistration
        {
            Key = request.Key,
            TaskId = taskId,
            Url = request.Url,
            RedactedUrl = request.RedactedUrl,
            Headers = request.Headers,
            Size = size,
            PieceSize = layout.PieceSize,
            PieceSizeRequested = request.RequestedPieceSize > 0,
            ExpectedDigest = request.ExpectedDigest,
            ContentAddressed = request.ContentAddressed,
            Name = request.Name,
            Topic = request.Topic,
            Labels = request.Labels,
            Requester = request.Requester,
        }, _stopping).ConfigureAwait(false);
        return result.Conflict is { } conflict
            ? new(request, Reject(request, UrlTaskErrorKind.FailedPrecondition, conflict, result.ConflictKind), null)
            : new(request, null, result);
    }

    private UrlTaskOutcome Result(CheckedRequest request, UrlTaskResult found)
    {
        if (found.Conflict is { } conflict)
        {
            return Reject(request, UrlTaskErrorKind.FailedPrecondition, conflict, found.ConflictKind);
        }
        // The task is shared; name, topic, labels and publisher are this caller's.
        var manifest = found.Manifest!.Clone();
        manifest.Name = request.Name;
        manifest.Topic = request.Topic;
        manifest.Labels.Clear();
        foreach (var (key, value) in request.Labels)
        {
            manifest.Labels[key] = value;
        }
        if (request.Requester.Length > 0)
        {
            manifest.Publisher = request.Requester;
        }
        return UrlTaskOutcome.Ok(manifest, found.Incarnation, found.Phase);
    }

    private UrlTaskOutcome Reject(CheckedRequest request, UrlTaskErrorKind kind, string problem, TaskErrorKind cause = TaskErrorKind.Other)
    {
        BrokerLog.UrlTaskRejected(_logger, request.RedactedUrl, problem);
        return UrlTaskOutcome.Failed(kind, problem) with { Cause = cause };
    }

    /// <summary>The gRPC-facing kind of an origin failure.</summary>
    public static UrlTaskErrorKind Map(OriginErrorKind kind) => kind switch
    {
        OriginErrorKind.NotFound => UrlTaskErrorKind.NotFound,
        OriginErrorKind.InvalidUrl => UrlTaskErrorKind.InvalidArgument,
        OriginErrorKind.Unavailable or OriginErrorKind.Timeout => UrlTaskErrorKind.Unavailable,
        // AccessDenied, Rejected, RangeNotSatisfiable, Tls, Protocol: asking again will not help.
        _ => UrlTaskErrorKind.FailedPrecondition,
    };

    private CheckedRequest? Check(RegisterUrlTaskRequest request, out string? problem, out UrlTaskErrorKind kind)
    {
        problem = null;
        kind = UrlTaskErrorKind.InvalidArgument;
        Uri url;
        try
        {
            url = OriginUrl.Parse(request.Url);
            _origins.Registry.Resolve(url);
        }
        catch (Exception e) when (e is FormatException or OriginException)
        {
            problem = e.Message;
            return null;
        }
        var requestedUrl = url;
        if (url.IsFile)
        {
            // The seed would read any file on this host for whoever reaches the gRPC port: only under the configured roots.
            if (_fileOrigins.Check(url, out var allowed) is { } refused)
            {
                problem = refused;
                kind = UrlTaskErrorKind.FailedPrecondition;
                return null;
            }
            url = allowed;
        }
        // The seed would read any bucket with the broker's S3 credentials: only the configured ones.
        if (_s3Buckets.Check(url) is { } bucketRefused)
        {
            problem = bucketRefused;
            kind = UrlTaskErrorKind.FailedPrecondition;
            return null;
        }
        var redacted = OriginUrl.Redact(url);

        var headers = new List<Header>(request.Headers.Count);
        foreach (var header in request.Headers)
        {
            if (string.IsNullOrWhiteSpace(header.Name))
            {
                problem = "a header has no name; expected 'Name: value'"; // its value may be a secret: not shown
                return null;
            }
            try
            {
                var parsed = OriginRequestOptions.ParseHeader($"{header.Name}: {header.Value}");
                if (parsed.Key != header.Name.Trim())
                {
                    throw new FormatException($"header name '{header.Name.Split(':')[0]}' is malformed; expected a name without ':'");
                }
                headers.Add(new Header { Name = parsed.Key, Value = parsed.Value });
            }
            catch (FormatException e)
            {
                problem = e.Message;
                return null;
            }
        }

        string? expected = null;
        if (request.ExpectedDigest.Trim() is { Length: > 0 } digestText)
        {
            var normalized = digestText.StartsWith(ContentDigest.Prefix, StringComparison.OrdinalIgnoreCase) ? digestText.ToLowerInvariant() : digestText;
            if (!ContentDigest.TryParse(normalized, out var digest))
            {
                problem = $"expected digest '{digestText}' is not sha256: followed by 64 hex digits";
                return null;
            }
            expected = digest.Value.ToString();
        }
        if (request.ContentAddressed && expected is null)
        {
            problem = "a content-addressed URL task needs its expected digest (sha256:...)";
            return null;
        }

        if (request.PieceSize != 0 && request.PieceSize is < PieceLayout.MinPieceSize or > PieceLayout.MaxPieceSize)
        {
            problem = $"piece size {request.PieceSize} is out of range; use {ByteSize.Format(PieceLayout.MinPieceSize)} to {ByteSize.Format(PieceLayout.MaxPieceSize)}, or 0 for the default";
            return null;
        }

        var name = request.Name.Length > 0 ? request.Name : DefaultName(requestedUrl);
        if (ArtifactName.Validate(name) is { } nameProblem)
        {
            problem = nameProblem;
            return null;
        }
        if (request.Topic.Length > 0 && TopicName.ValidateTopic(request.Topic) is { } topicProblem)
        {
            problem = topicProblem;
            return null;
        }

        var filterParams = request.FilterParams.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => p.Trim()).ToList();
        // Other credentials, another key: the origin is asked with them before they join a live task (issue 11).
        var credentials = CredentialFingerprint.Of(url, headers, filterParams);
        var key = request.ContentAddressed
            ? $"content\n{expected}\n{request.PieceSize}\n{credentials}"
            : $"url\n{UrlTaskId.Canonicalize(url, filterParams)}\n{request.Tag}\n{request.PieceSize}\n{credentials}";
        return new CheckedRequest(
            key, url, redacted, headers,
            OriginRequestOptions.Default with { Headers = [.. headers.Select(h => KeyValuePair.Create(h.Name, h.Value))] },
            request.PieceSize, expected, request.ContentAddressed, request.Tag, filterParams, name, request.Topic,
            new Dictionary<string, string>(request.Labels), request.Requester);
    }

    /// <summary>The last segment of the URL's path when it is a valid file name, else "download".</summary>
    public static string DefaultName(Uri url)
    {
        var path = url.AbsolutePath.TrimEnd('/');
        var segment = path[(path.LastIndexOf('/') + 1)..];
        string name;
        try
        {
            name = Uri.UnescapeDataString(segment);
        }
        catch (UriFormatException)
        {
            name = segment;
        }
        return ArtifactName.Validate(name) is null ? name : "download";
    }

    private static string RedactedOrNothing(string text) =>
        Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) ? OriginUrl.Redact(url) : "(not a URL)";

    private sealed record CheckedRequest(
        string Key,
        Uri Url,
        string RedactedUrl,
        IReadOnlyList<Header> Headers,
        OriginRequestOptions Options,
        int RequestedPieceSize,
        string? ExpectedDigest,
        bool ContentAddressed,
        string Tag,
        IReadOnlyList<string> FilterParams,
        string Name,
        string Topic,
        IReadOnlyDictionary<string, string> Labels,
        string Requester);
}
