using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Origins;

/// <summary>
/// The task id of a URL task: SHA-256 over the canonical URL (filtered query parameters removed),
/// the tag and the piece size, as <c>sha256:&lt;hex&gt;</c>. The same object fetched through URLs
/// that differ only in their signature, parameter order, default port, user info, fragment or
/// percent-encoding case is one task.
/// </summary>
public static class UrlTaskId
{
    private const string Domain = "dragonfly.pubsub/url-task/v1";

    /// <summary>Signed-URL parameters (AWS S3 v2/v4, Alibaba OSS) that change per signature, not per object.</summary>
    public static IReadOnlyList<string> DefaultFilteredParameters { get; } =
    [
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
        "X-Amz-Signature", "X-Amz-Security-Token", "Expires", "Signature", "OSSAccessKeyId", "AWSAccessKeyId",
    ];

    /// <summary>
    /// The task id. <paramref name="filterParameters"/> (<c>--filter-param</c>) are removed in addition
    /// to <see cref="DefaultFilteredParameters"/>; names match case-insensitively.
    /// </summary>
    public static ContentDigest Compute(Uri url, long pieceSize, string? tag = null, IEnumerable<string>? filterParameters = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pieceSize);
        var canonical = Canonicalize(url, filterParameters);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        // Length-prefixed fields: no choice of tag or URL can make two different inputs collide.
        AppendField(hash, Domain);
        AppendField(hash, canonical);
        AppendField(hash, tag ?? "");
        Span<byte> size = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64BigEndian(size, pieceSize);
        hash.AppendData(size);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        hash.GetHashAndReset(digest);
        return ContentDigest.FromHash(digest);
    }

    /// <summary>
    /// The canonical form that is hashed: lowercase scheme and host, no default port, no user info,
    /// no fragment, percent-encoding normalised, filtered parameters removed, the rest sorted.
    /// </summary>
    public static string Canonicalize(Uri url, IEnumerable<string>? filterParameters = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri)
        {
            throw new ArgumentException("a URL task needs an absolute URL", nameof(url));
        }
        var filtered = new HashSet<string>(DefaultFilteredParameters, StringComparer.OrdinalIgnoreCase);
        if (filterParameters is not null)
        {
            filtered.UnionWith(filterParameters.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => p.Trim()));
        }

        var text = new StringBuilder();
        text.Append(url.Scheme.ToLowerInvariant()).Append("://").Append(url.Host.ToLowerInvariant());
        if (!url.IsDefaultPort && url.Port >= 0)
        {
            text.Append(':').Append(url.Port.ToString(CultureInfo.InvariantCulture));
        }
        var path = NormalizeEscapes(url.AbsolutePath);
        text.Append(path.Length == 0 ? "/" : path);

        var parameters = new List<string>();
        if (url.Query.Length > 1)
        {
            foreach (var part in url.Query[1..].Split('&'))
            {
                if (part.Length == 0)
                {
                    continue;
                }
                var equals = part.IndexOf('=', StringComparison.Ordinal);
                var name = equals < 0 ? part : part[..equals];
                if (!filtered.Contains(Uri.UnescapeDataString(name)))
                {
                    parameters.Add(NormalizeEscapes(part));
                }
            }
        }
        parameters.Sort(StringComparer.Ordinal);
        if (parameters.Count > 0)
        {
            text.Append('?').AppendJoin('&', parameters);
        }
        return text.ToString();
    }

    // %xx of an unreserved character becomes the character; any other %xx gets uppercase hex.
    private static string NormalizeEscapes(string text)
    {
        if (!text.Contains('%', StringComparison.Ordinal))
        {
            return text;
        }
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '%' && i + 2 < text.Length && char.IsAsciiHexDigit(text[i + 1]) && char.IsAsciiHexDigit(text[i + 2]))
            {
                var value = (char)Convert.ToByte(text.Substring(i + 1, 2), 16);
                if (char.IsAsciiLetterOrDigit(value) || value is '-' or '.' or '_' or '~')
                {
                    result.Append(value);
                }
                else
                {
                    result.Append('%').Append(char.ToUpperInvariant(text[i + 1])).Append(char.ToUpperInvariant(text[i + 2]));
                }
                i += 2;
            }
            else
            {
                result.Append(text[i]);
            }
        }
        return result.ToString();
    }

    private static void AppendField(IncrementalHash hash, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64BigEndian(length, bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}
