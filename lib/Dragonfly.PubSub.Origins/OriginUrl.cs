using System.Text;

namespace Dragonfly.PubSub.Origins;

/// <summary>Parsing of origin URLs a user typed, and the redacted form that messages and logs show.</summary>
public static class OriginUrl
{
    // Query parameters whose values are secrets: the signed-URL parameters plus common token names.
    private static readonly HashSet<string> SensitiveParameters = new(
        UrlTaskId.DefaultFilteredParameters.Concat(
            ["sig", "token", "access_token", "password", "passwd", "secret", "api_key", "apikey", "key",
             "X-Goog-Signature", "X-Goog-Credential", "x-oss-signature", "x-oss-credential"]),
        StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Parses an absolute URL. A rooted local path becomes a <c>file://</c> URL.
    /// </summary>
    /// <exception cref="FormatException">Not an absolute URL; the message is one line for the user.</exception>
    public static Uri Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) && url.Scheme.Length > 0)
        {
            return url;
        }
        throw new FormatException($"'{Shown(text)}' is not a URL; expected http://, https://, ftp://, s3://bucket/key or file:///path");
    }

    /// <summary>
    /// The URL without credentials: user info becomes <c>***@</c>, values of signature and token
    /// query parameters become <c>***</c>, the fragment is dropped.
    /// </summary>
    public static string Redact(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri)
        {
            return url.OriginalString.Split('?', 2)[0];
        }
        var text = new StringBuilder();
        text.Append(url.Scheme).Append("://");
        if (url.UserInfo.Length > 0)
        {
            text.Append("***@");
        }
        var path = url.AbsolutePath;
        var query = url.Query;
        if (query.Length == 0 && url.OriginalString.IndexOf('?', StringComparison.Ordinal) is var mark and >= 0)
        {
            // Schemes whose parser keeps '?' in the path (gopher): split as if it were a query.
            var escaped = path.IndexOf("%3F", StringComparison.OrdinalIgnoreCase);
            path = escaped >= 0 ? path[..escaped] : path;
            query = url.OriginalString[mark..].Split('#', 2)[0];
        }
        text.Append(url.Authority).Append(path);
        if (query.Length > 1)
        {
            var separator = '?';
            foreach (var part in query[1..].Split('&'))
            {
                text.Append(separator);
                separator = '&';
                var equals = part.IndexOf('=', StringComparison.Ordinal);
                var name = equals < 0 ? part : part[..equals];
                if (equals >= 0 && SensitiveParameters.Contains(Uri.UnescapeDataString(name)))
                {
                    text.Append(name).Append("=***");
                }
                else
                {
                    text.Append(part);
                }
            }
        }
        return text.ToString();
    }

    private static string Shown(string text)
    {
        // Never echo what may hold a password (before an '@') or a signature (after a '?').
        if (text.IndexOfAny(['?', '@']) >= 0)
        {
            var scheme = text.IndexOf("://", StringComparison.Ordinal);
            return scheme > 0 && scheme < 16 ? text[..(scheme + 3)] + "..." : "...";
        }
        return text.Length > 80 ? text[..80] + "..." : text;
    }
}
