using System.Threading.Channels;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// One agent's scheduler stream. The gRPC adapter drains <see cref="Outbound"/> into the response stream;
/// only the coordinator's shards write to it (several at once: the channel takes many writers).
/// </summary>
public sealed class PeerSession
{
    private readonly Channel<SchedulerEvent> _outbound =
        Channel.CreateUnbounded<SchedulerEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _closed = new();

    public PeerSession(string peerId, string host, int port, string cluster = "", string zone = "", int uploadSlots = 0,
        bool seed = false, string brokerAddress = "", bool maySource = true)
    {
        PeerId = peerId;
        Host = host;
        Port = port;
        Cluster = cluster;
        Zone = zone;
        UploadSlots = uploadSlots;
        MaySource = maySource;
        Seed = seed && maySource;
        BrokerAddress = brokerAddress;
    }

    public string PeerId { get; }
    public string Host { get; }
    public int Port { get; }
    public string Cluster { get; }
    public string Zone { get; }
    public int UploadSlots { get; }

    /// <summary>
    /// Whether this peer may be a URL task's source at all: always with --insecure; in secure mode only with
    /// the seed role in its certificate (the source gets the task's credentials and vouches for its digests).
    /// </summary>
    public bool MaySource { get; }

    /// <summary>A seed peer (Hello.seed, and <see cref="MaySource"/>): the preferred source of URL tasks.</summary>
    public bool Seed { get; }

    /// <summary>
    /// The broker's own address on this stream, as the agent reached it. A parent on the broker's machine
    /// (loopback, e.g. the broker's seed) is handed to remote children under this address.
    /// </summary>
    public string BrokerAddress { get; }

    public ChannelReader<SchedulerEvent> Outbound => _outbound.Reader;

    /// <summary>Cancelled when the coordinator ends the session (replaced by a newer one, or shutdown).</summary>
    public CancellationToken Closed => _closed.Token;

    public static PeerSession FromHello(Hello hello, string remoteHost, string brokerAddress = "", bool maySource = true) => new(
        hello.PeerId,
        string.IsNullOrWhiteSpace(hello.Host) ? remoteHost : hello.Host,
        hello.PeerPort,
        hello.Cluster,
        hello.Zone,
        hello.UploadSlots,
        hello.Seed,
        brokerAddress,
        maySource);

    internal bool Send(SchedulerEvent message) => _outbound.Writer.TryWrite(message);

    internal void Close()
    {
        _outbound.Writer.TryComplete();
        _closed.Cancel();
    }
}
