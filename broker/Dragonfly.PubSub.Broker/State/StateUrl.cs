using System.Globalization;

namespace Dragonfly.PubSub.Broker.State;

/// <summary>
/// Where several brokers keep their shared state (<c>--state</c>): <c>redis://HOST[:PORT][,HOST[:PORT]…]</c>,
/// port 6379 by default. With several endpoints the Redis client finds the primary among them.
/// </summary>
public sealed class StateUrl
{
    public const int DefaultRedisPort = 6379;

    private StateUrl(IReadOnlyList<(string Host, int Port)> endpoints) => Endpoints = endpoints;

    public IReadOnlyList<(string Host, int Port)> Endpoints { get; }

    /// <summary>redis://HOST:PORT,HOST:PORT, for messages.</summary>
    public string Shown => "redis://" + string.Join(",", Endpoints.Select(e => $"{(e.Host.Contains(':', StringComparison.Ordinal) ? $"[{e.Host}]" : e.Host)}:{e.Port.ToString(CultureInfo.InvariantCulture)}"));

    public override string ToString() => Shown;

    /// <summary>Parses a state URL; null and a one-line <paramref name="error"/> when it is not one.</summary>
    public static StateUrl? TryParse(string? text, out string? error)
    {
        error = null;
        var trimmed = text?.Trim() ?? "";
        const string scheme = "redis://";
        if (!trimmed.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{trimmed}' is not a state URL; use redis://HOST:PORT[,HOST:PORT] (LiteDB in --data-dir is the default and needs no flag)";
            return null;
        }
        var endpoints = new List<(string, int)>();
        foreach (var part in trimmed[scheme.Length..].TrimEnd('/').Split(',', StringSplitOptions.TrimEntries))
        {
            if (ParseEndpoint(part) is not { } endpoint)
            {
                error = $"'{part}' in '{trimmed}' is not HOST[:PORT]; use redis://HOST:PORT[,HOST:PORT]";
                return null;
            }
            endpoints.Add(endpoint);
        }
        return new StateUrl(endpoints);
    }

    private static (string, int)? ParseEndpoint(string text)
    {
        if (text.Length == 0 || text.Contains('/', StringComparison.Ordinal) || text.Contains('@', StringComparison.Ordinal))
        {
            return null;
        }
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return null;
            }
            var host = text[1..close];
            var rest = text[(close + 1)..];
            return rest.Length == 0 ? (host, DefaultRedisPort) : rest.StartsWith(':') && Port(rest[1..]) is { } p ? (host, p) : null;
        }
        var colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            return (text, DefaultRedisPort);
        }
        return colon > 0 && Port(text[(colon + 1)..]) is { } port ? (text[..colon], port) : null;
    }

    private static int? Port(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536 ? port : null;
}
