using System.Globalization;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>Parsing of <c>HOST[:PORT]</c> as typed on command lines (IPv6 in brackets).</summary>
public static class HostPort
{
    /// <exception cref="UserFacingException">Usage (exit 2): not HOST[:PORT].</exception>
    public static (string Host, int Port) Parse(string text, int defaultPort, string flag)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        var colon = text.LastIndexOf(':');
        if (text.Length == 0 || text.StartsWith(':'))
        {
            throw UserFacingException.Usage($"{flag} '{text}' is not HOST[:PORT]; write e.g. 127.0.0.1:{defaultPort}");
        }
        if (colon < 0 || text.EndsWith(']') || (text.StartsWith('[') is false && text.Count(c => c == ':') > 1))
        {
            return (text.Trim('[', ']'), defaultPort);
        }
        return int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? (text[..colon].Trim('[', ']'), port)
            : throw UserFacingException.Usage($"{flag} '{text}' is not HOST[:PORT]; write e.g. 127.0.0.1:{defaultPort}");
    }

    /// <summary>Several brokers as <c>HOST:PORT,HOST:PORT</c> (<c>--broker</c>, <c>--bridge-from</c>): at least one.</summary>
    /// <exception cref="UserFacingException">Usage (exit 2): an entry is not HOST[:PORT], or the list names none.</exception>
    public static IReadOnlyList<(string Host, int Port)> ParseList(string text, int defaultPort, string flag)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(entry => Parse(entry, defaultPort, flag)).ToList();
        return list.Count > 0
            ? list
            : throw UserFacingException.Usage($"{flag} '{text}' names no broker; pass HOST[:PORT] or several as HOST:PORT,HOST:PORT");
    }

    /// <summary><c>HOST:PORT</c> as brokers are named for placement (IPv6 in brackets), so every agent names them alike.</summary>
    public static string Name((string Host, int Port) endpoint) =>
        (endpoint.Host.Contains(':', StringComparison.Ordinal) ? $"[{endpoint.Host}]" : endpoint.Host) + ":" + endpoint.Port.ToString(CultureInfo.InvariantCulture);
}
