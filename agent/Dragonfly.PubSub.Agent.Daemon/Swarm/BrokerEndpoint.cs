using System.Net;
using System.Net.Sockets;
using Dragonfly.PubSub.Agent.Configuration;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>
/// One broker's scheduler: <see cref="Name"/> (<c>HOST:PORT</c> as given, what tasks are hashed over, so every
/// agent must name the brokers alike), the address to dial and the name its certificate must carry.
/// </summary>
public sealed record BrokerEndpoint(string Name, string Host, int Port, string TlsHost)
{
    /// <summary>
    /// The brokers an agent uses: each of <c>--broker a:8002,b:8002</c>; or, for one name that resolves to
    /// several addresses of one family (IPv4 preferred), each address (certificates are then checked for the
    /// name); else the one broker.
    /// </summary>
    public static IReadOnlyList<BrokerEndpoint> From(AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Brokers.Count > 1)
        {
            return options.Brokers.Select(text =>
            {
                var (host, port) = HostPort.Parse(text, options.BrokerGrpcPort, "--broker");
                return new BrokerEndpoint(NameOf(host, port), host, port, host);
            }).ToList();
        }
        var single = new BrokerEndpoint(NameOf(options.BrokerHost, options.BrokerGrpcPort), options.BrokerHost, options.BrokerGrpcPort, options.BrokerHost);
        if (IPAddress.TryParse(options.BrokerHost, out _) || options.BrokerHost.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return [single];
        }
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(options.BrokerHost);
        }
        catch (SocketException)
        {
            return [single]; // not resolvable now: the session retries the name as given
        }
        var family = addresses.Any(a => a.AddressFamily == AddressFamily.InterNetwork) ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        var chosen = addresses.Where(a => a.AddressFamily == family).Distinct().OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList();
        return chosen.Count > 1
            ? chosen.Select(a => new BrokerEndpoint(NameOf(a.ToString(), options.BrokerGrpcPort), a.ToString(), options.BrokerGrpcPort, options.BrokerHost)).ToList()
            : [single];
    }

    private static string NameOf(string host, int port) => HostPort.Name((host, port));
}
