using System.Globalization;

namespace Dragonfly.PubSub.Broker.State;

/// <summary>
/// Where several brokers keep their shared state (<c>--state</c>), in one of two forms:
/// <list type="bullet">
/// <item><c>redis://HOST[:PORT][,HOST[:PORT]…]</c>, port 6379 by default: Redis itself; with several endpoints
/// the Redis client finds the primary among them.</item>
/// <item><c>redis-sentinel://HOST[:PORT][,HOST[:PORT]…]/SERVICE</c>, port 26379 by default: the Redis Sentinels
/// that watch the primary named SERVICE (<c>sentinel monitor SERVICE …</c>); the client asks them for the
/// primary and follows them to the replica they promote when it fails.</item>
/// </list>
/// </summary>
public sealed class StateUrl
{
    public const int DefaultRedisPort = 6379;

    public const int DefaultSentinelPort = 26379;

    private const string RedisScheme = "redis://";

    private const string SentinelScheme = "redis-sentinel://";

    private const string Forms = "use redis://HOST:PORT[,HOST:PORT] or redis-sentinel://HOST:PORT[,HOST:PORT]/SERVICE";

    private StateUrl(IReadOnlyList<(string Host, int Port)> endpoints, string? serviceName)
    {
        Endpoints = endpoints;
        ServiceName = serviceName;
    }

    /// <summary>Redis servers, or with <see cref="ServiceName"/> the Sentinels.</summary>
    public IReadOnlyList<(string Host, int Port)> Endpoints { get; }

    /// <summary>The primary's name at the Sentinels (redis-sentinel://…/SERVICE); null for redis://.</summary>
    public string? ServiceName { get; }

    /// <summary>redis://HOST:PORT,HOST:PORT or redis-sentinel://HOST:PORT/SERVICE, for messages.</summary>
    public string Shown => (ServiceName is null ? RedisScheme : SentinelScheme)
        + string.Join(",", Endpoints.Select(e => $"{(e.Host.Contains(':', StringComparison.Ordinal) ? $"[{e.Host}]" : e.Host)}:{e.Port.ToString(CultureInfo.InvariantCulture)}"))
        + (ServiceName is null ? "" : "/" + ServiceName);

    public override string ToString() => Shown;

    /// <summary>Parses a state URL; null and a one-line <paramref name="error"/> when it is not one.</summary>
    public static StateUrl? TryParse(string? text, out string? error)
    {
        error = null;
        var trimmed = text?.Trim() ?? "";
        var sentinel = trimmed.StartsWith(SentinelScheme, StringComparison.OrdinalIgnoreCase);
        if (!sentinel && !trimmed.StartsWith(RedisScheme, StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{trimmed}' is not a state URL; {Forms} (LiteDB in --data-dir is the default and needs no flag)";
            return null;
        }
        var rest = trimmed[(sentinel ? SentinelScheme.Length : RedisScheme.Length)..];
        string? service = null;
        if (sentinel)
        {
            var slash = rest.IndexOf('/', StringComparison.Ordinal);
            service = slash < 0 ? "" : rest[(slash + 1)..].TrimEnd('/');
            rest = slash < 0 ? rest : rest[..slash];
            if (!IsServiceName(service))
            {
                error = $"'{trimmed}' names no Sentinel service; use redis-sentinel://HOST:PORT[,HOST:PORT]/SERVICE, SERVICE as in 'sentinel monitor SERVICE ...'";
                return null;
            }
        }
        var endpoints = new List<(string, int)>();
        foreach (var part in rest.TrimEnd('/').Split(',', StringSplitOptions.TrimEntries))
        {
            if (ParseEndpoint(part, sentinel ? DefaultSentinelPort : DefaultRedisPort) is not { } endpoint)
            {
                error = $"'{part}' in '{trimmed}' is not HOST[:PORT]; {Forms}";
                return null;
            }
            endpoints.Add(endpoint);
        }
        return new StateUrl(endpoints, service);
    }

    // Sentinel takes any name without spaces; letters, digits and -_. are what operators use and what a URL keeps intact.
    private static bool IsServiceName(string name) =>
        name.Length is > 0 and <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static (string, int)? ParseEndpoint(string text, int defaultPort)
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
            return rest.Length == 0 ? (host, defaultPort) : rest.StartsWith(':') && Port(rest[1..]) is { } p ? (host, p) : null;
        }
        var colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            return (text, defaultPort);
        }
        return colon > 0 && Port(text[(colon + 1)..]) is { } port ? (text[..colon], port) : null;
    }

    private static int? Port(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536 ? port : null;
}
