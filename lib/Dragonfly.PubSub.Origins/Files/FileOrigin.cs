using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Origins.Files;

/// <summary><c>file://</c> origins: local files read at offsets with <see cref="RandomAccess"/>.</summary>
public sealed class FileOrigin : IOrigin
{
    public IReadOnlyCollection<string> Schemes { get; } = ["file"];

    public Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        var path = LocalPath(url);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw Directory.Exists(path)
                ? new OriginException(OriginErrorKind.Rejected, $"is a directory, not a file: {OriginUrl.Redact(url)}", OriginUrl.Redact(url))
                : OriginException.NotFound(url);
        }
        return Task.FromResult(new OriginObject
        {
            Url = url,
            Size = info.Length,
            SupportsRanges = true,
            LastModified = new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero),
        });
    }

    public Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(l);
        }
        var path = LocalPath(url);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw OriginException.NotFound(url);
        }
        catch (UnauthorizedAccessException e)
        {
            throw Directory.Exists(path)
                ? new OriginException(OriginErrorKind.Rejected, $"is a directory, not a file: {OriginUrl.Redact(url)}", OriginUrl.Redact(url))
                : new OriginException(OriginErrorKind.AccessDenied, $"access denied reading {OriginUrl.Redact(url)}", OriginUrl.Redact(url), inner: e);
        }
        var size = RandomAccess.GetLength(handle);
        if (offset > size || (offset == size && length is > 0))
        {
            handle.Dispose();
            throw new OriginException(OriginErrorKind.RangeNotSatisfiable,
                $"byte {offset} is beyond the end of the object ({size} bytes) at origin: {OriginUrl.Redact(url)}", OriginUrl.Redact(url));
        }
        var end = length is { } n ? Math.Min(size, offset + n) : size;
        return Task.FromResult<Stream>(new FileRangeStream(handle, offset, end));
    }

    private static string LocalPath(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsFile || !(url.IsLoopback || url.Host.Length == 0))
        {
            throw new OriginException(OriginErrorKind.InvalidUrl,
                $"only local files are served by file:// (file:///path): {OriginUrl.Redact(url)}", OriginUrl.Redact(url));
        }
        return url.LocalPath;
    }
}
