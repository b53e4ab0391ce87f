using System.Text;

namespace Dragonfly.PubSub.Origins;

/// <summary>
/// Per-request settings: headers passed through to HTTP(S) origins (<c>--header 'K: V'</c>),
/// timeouts and the retry policy. Immutable; build variants with <c>with</c>.
/// </summary>
public sealed record OriginRequestOptions
{
    public static OriginRequestOptions Default { get; } = new();

    /// <summary>Extra request headers for HTTP(S) origins, in order. Other origins ignore them.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>One attempt's longest wait from connecting until the origin starts answering.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait for the next bytes of a body before the read counts as failed (and is resumed).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public OriginRetryPolicy Retry { get; init; } = OriginRetryPolicy.Default;

    /// <summary>Parses <c>--header</c> values of the form <c>Name: value</c>.</summary>
    /// <exception cref="FormatException">The text is not <c>Name: value</c> with a valid header name.</exception>
    public static KeyValuePair<string, string> ParseHeader(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var name = colon > 0 ? text[..colon].Trim() : "";
        if (name.Length == 0 || !IsToken(name))
        {
            // The value may be a secret (Authorization): show only the part before the colon.
            var shown = colon > 0 ? text[..colon] : (text.Length > 40 ? text[..40] + "..." : text);
            throw new FormatException($"header '{shown}' is malformed; expected 'Name: value'");
        }
        var value = text[(colon + 1)..].Trim();
        if (value.AsSpan().ContainsAny('\r', '\n'))
        {
            throw new FormatException($"header '{name}' has a line break in its value");
        }
        return new KeyValuePair<string, string>(name, value);
    }

    /// <summary>These options with <paramref name="headerLines"/> (each <c>Name: value</c>) added.</summary>
    public OriginRequestOptions WithHeaders(IEnumerable<string> headerLines) =>
        this with { Headers = [.. Headers, .. headerLines.Select(ParseHeader)] };

    private static bool IsToken(string name)
    {
        foreach (var c in name)
        {
            // RFC 9110 tchar.
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)))
            {
                return false;
            }
        }
        return true;
    }

    private bool PrintMembers(StringBuilder builder)
    {
        // Header values can hold tokens: print the names only.
        builder.Append("Headers = [").AppendJoin(", ", Headers.Select(h => h.Key)).Append("], ");
        builder.Append("ResponseTimeout = ").Append(ResponseTimeout).Append(", ");
        builder.Append("IdleTimeout = ").Append(IdleTimeout).Append(", ");
        builder.Append("Retry = ").Append(Retry);
        return true;
    }
}
