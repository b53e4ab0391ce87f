using System.Globalization;
using Dragonfly.PubSub.Origins.Streams;

namespace Dragonfly.PubSub.Origins.Ftp;

/// <summary>
/// <c>ftp</c> origins: SIZE and MDTM for stat, REST + RETR over a passive data connection for
/// ranged reads. Servers without REST are read from the start and skipped up to the offset.
/// One control connection per call, closed when the call's stream is disposed.
/// </summary>
public sealed class FtpOrigin(FtpOriginOptions? options = null) : IOrigin
{
    private readonly FtpOriginOptions _options = options ?? new FtpOriginOptions();

    public IReadOnlyCollection<string> Schemes { get; } = ["ftp"];

    public async Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        var path = FtpConnection.PathOf(url);
        using var connection = await FtpConnection.OpenAsync(url, _options, options, cancellationToken).ConfigureAwait(false);

        var supportsRest = true; // without FEAT, assume REST (RFC 3659) and fall back when it is refused
        var features = await connection.SendAsync("FEAT", cancellationToken).ConfigureAwait(false);
        if (features.Code == 211)
        {
            supportsRest = features.Text.Split('\n').Any(f => f.Trim().StartsWith("REST STREAM", StringComparison.OrdinalIgnoreCase));
        }

        long? size = null;
        var sizeReply = await connection.SendAsync("SIZE " + path, cancellationToken).ConfigureAwait(false);
        if (sizeReply.Code == 213 && long.TryParse(sizeReply.Text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            size = parsed;
        }
        else if (sizeReply.Code is not (500 or 502 or 504))
        {
            // 550 and friends: no such file (a missing SIZE command is 500/502).
            throw connection.Unexpected(sizeReply);
        }

        DateTimeOffset? lastModified = null;
        var mdtm = await connection.SendAsync("MDTM " + path, cancellationToken).ConfigureAwait(false);
        if (mdtm.Code == 213 && DateTime.TryParseExact(mdtm.Text.Trim(), ["yyyyMMddHHmmss", "yyyyMMddHHmmss.FFF"], CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var modified))
        {
            lastModified = new DateTimeOffset(modified, TimeSpan.Zero);
        }
        return new OriginObject { Url = url, Size = size, SupportsRanges = supportsRest, LastModified = lastModified };
    }

    public async Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(l);
            if (l == 0)
            {
                return Stream.Null;
            }
        }
        var path = FtpConnection.PathOf(url);
        var connection = await FtpConnection.OpenAsync(url, _options, options, cancellationToken).ConfigureAwait(false);
        System.Net.Sockets.TcpClient? data = null;
        try
        {
            data = await connection.OpenDataConnectionAsync(cancellationToken).ConfigureAwait(false);
            var skip = 0L;
            if (offset > 0)
            {
                var rest = await connection.SendAsync("REST " + offset.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
                if (rest.Code is 500 or 502 or 504)
                {
                    skip = offset; // no REST here: read from the start and skip
                }
                else
                {
                    connection.Expect(rest, 350);
                }
            }
            var retr = await connection.SendAsync("RETR " + path, cancellationToken).ConfigureAwait(false);
            if (!retr.IsPreliminary)
            {
                throw retr.Code is 550 or 554 && offset > 0 && skip == 0
                    ? await BeyondEndOrMissingAsync(url, offset, options, cancellationToken).ConfigureAwait(false)
                    : connection.Unexpected(retr);
            }
            var redacted = OriginUrl.Redact(url);
            return new RangeWindowStream(data.GetStream(), skip, length, _ => BeyondEnd(url, offset), data, connection)
            {
                // The data connection ended: only a 226 on the control connection says the file did too.
                OnInnerEnd = async ct =>
                {
                    var done = await connection.ReadReplyAsync(ct).ConfigureAwait(false);
                    if (done.Code is not (226 or 250))
                    {
                        throw new IOException($"FTP transfer of {redacted} ended with FTP {done.Code} instead of 226");
                    }
                },
            };
        }
        catch
        {
            data?.Dispose();
            connection.Dispose();
            throw;
        }
    }

    // Servers answer RETR after REST past the end with 550 or 554 (invalid REST) rather than an empty transfer.
    private async Task<OriginException> BeyondEndOrMissingAsync(Uri url, long offset, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        var stat = await StatAsync(url, options, cancellationToken).ConfigureAwait(false);
        return stat.Size is { } size && offset >= size ? BeyondEnd(url, offset) : OriginException.NotFound(url, 550);
    }

    private static OriginException BeyondEnd(Uri url, long offset) =>
        new(OriginErrorKind.RangeNotSatisfiable, $"byte {offset} is beyond the end of the object at origin: {OriginUrl.Redact(url)}", OriginUrl.Redact(url));
}
