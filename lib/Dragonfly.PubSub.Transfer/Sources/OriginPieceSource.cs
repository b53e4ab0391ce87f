using System.Net.Sockets;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Origins;

namespace Dragonfly.PubSub.Transfer.Sources;

/// <summary>
/// Pieces of a URL task read from its origin with ranged requests through <see cref="OriginClient"/>
/// (which retries transient failures with backoff and resumes cut ranges).
/// </summary>
public sealed class OriginPieceSource : IPieceSource
{
    private readonly OriginClient _client;
    private readonly Uri _url;
    private readonly OriginRequestOptions _options;

    public OriginPieceSource(OriginClient client, Uri url, OriginRequestOptions? options = null)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri)
        {
            throw new ArgumentException("the origin URL must be absolute", nameof(url));
        }
        _url = url;
        _options = options ?? OriginRequestOptions.Default;
        // Authority leaves out user info; query and fragment may hold signatures.
        Description = $"{url.Scheme}://{url.Authority}{url.AbsolutePath}";
    }

    public string Description { get; }

    public async Task ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        int read;
        try
        {
            read = await _client.ReadRangeAsync(_url, offset, destination, _options, ct).ConfigureAwait(false);
        }
        catch (OriginException e)
        {
            // A range the origin no longer has, of an object whose size the task knows: it shrank.
            var kind = e.Kind == OriginErrorKind.RangeNotSatisfiable ? TaskErrorKind.SourceChanged : e.Kind.ToTaskErrorKind();
            throw new PieceSourceException(e.Message, permanent: !e.IsTransient, kind, e);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is IOException or HttpRequestException or SocketException or OperationCanceledException)
        {
            // OriginClient turns these into OriginException once its retries are spent; anything that slips past is transient too.
            throw new PieceSourceException($"reading {Description} failed: {e.Message}", permanent: false, TaskErrorKind.Unavailable, e);
        }
        if (read != destination.Length)
        {
            throw new PieceSourceException(
                $"the origin object changed size: {Description} ends at byte {offset + read}, the task expects at least {offset + destination.Length}",
                permanent: true, TaskErrorKind.SourceChanged);
        }
    }
}
