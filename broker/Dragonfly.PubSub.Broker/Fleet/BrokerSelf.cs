using System.Net;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;

namespace Dragonfly.PubSub.Broker.Fleet;

/// <summary>This broker as the fleet sees it: its id, its address and its ports once they are bound.</summary>
public sealed class BrokerSelf(string id, BrokerOptions options, BoundPorts ports, TimeProvider time)
{
    private readonly DateTimeOffset _startedAt = time.GetUtcNow();

    public string Id => id;

    /// <summary>Null until the listeners are bound.</summary>
    public BrokerRecord? Record(DateTimeOffset now) => ports.Grpc == 0
        ? null
        : new BrokerRecord(id, Host(), ports.Grpc, ports.Http, _startedAt, now);

    // A specific listen address is also the one to dial; for a wildcard one the host name is the best guess.
    private string Host() => options.Listen.Equals(IPAddress.Any) || options.Listen.Equals(IPAddress.IPv6Any) ? Dns.GetHostName() : options.Listen.ToString();
}
