using System.Net.Http.Headers;

namespace Dragonfly.PubSub.Registry.Auth;

/// <summary>What a registry asks for in <c>WWW-Authenticate</c>: Basic, or Bearer with a token service.</summary>
internal sealed record AuthChallenge(AuthScheme Scheme, Uri? Realm = null, string? Service = null)
{
    public static AuthChallenge None { get; } = new(AuthScheme.None);

    /// <summary>The challenge this client answers from a 401's headers (Bearer preferred), or null.</summary>
    public static AuthChallenge? FromHeaders(HttpHeaderValueCollection<AuthenticationHeaderValue> headers)
    {
        AuthChallenge? basic = null;
        foreach (var header in headers)
        {
            if (header.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            {
                var parameters = ParseParameters(header.Parameter ?? "");
                if (parameters.TryGetValue("realm", out var realm) && Uri.TryCreate(realm, UriKind.Absolute, out var realmUri)
                    && (realmUri.Scheme == Uri.UriSchemeHttp || realmUri.Scheme == Uri.UriSchemeHttps))
                {
                    return new AuthChallenge(AuthScheme.Bearer, realmUri, parameters.GetValueOrDefault("service"));
                }
            }
            else if (header.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
            {
                basic = new AuthChallenge(AuthScheme.Basic);
            }
        }
        return basic;
    }

    /// <summary>Parses <c>key="quoted, value",key2=token</c> (RFC 7235 auth-params).</summary>
    internal static Dictionary<string, string> ParseParameters(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
            {
                i++;
            }
            var eq = text.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }
            var key = text[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < text.Length && text[i] == '"')
            {
                var builder = new System.Text.StringBuilder();
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }
                    builder.Append(text[i]);
                    i++;
                }
                i++;
                value = builder.ToString();
            }
            else
            {
                var end = text.IndexOf(',', i);
                end = end < 0 ? text.Length : end;
                value = text[i..end].Trim();
                i = end;
            }
            if (key.Length > 0)
            {
                result[key] = value;
            }
        }
        return result;
    }
}
