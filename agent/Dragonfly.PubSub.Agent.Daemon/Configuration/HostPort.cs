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
}
