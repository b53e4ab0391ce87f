using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>
/// Everything an agent is told at start (flags over environment over config file, or set by a
/// process that hosts an agent in-process). Immutable: runtime state lives in the components.
/// </summary>
public sealed record AgentOptions
{
    private readonly string? _mqttHost;
    private readonly string? _outputDir;
    private readonly string? _brokerHttpHost;
    private readonly int? _mqttPort;

    /// <summary>Broker gRPC host (see <see cref="Broker"/> to set host and port at once).</summary>
    public string BrokerHost { get; init; } = "";
    public int BrokerGrpcPort { get; init; } = 8002;

    /// <summary>The broker's scheduler as <c>HOST[:PORT]</c> (default port 8002).</summary>
    /// <exception cref="UserFacingException">(on init) Not HOST[:PORT].</exception>
    public string Broker
    {
        get => $"{BrokerHost}:{BrokerGrpcPort}";
        init => (BrokerHost, BrokerGrpcPort) = HostPort.Parse(value, 8002, "--broker");
    }

    /// <summary>
    /// Every broker's scheduler as <c>HOST:PORT</c> when there are several (<c>--broker a:8002,b:8002,c:8002</c>);
    /// empty with one. <see cref="BrokerHost"/> is then the first (the default for MQTT and the HTTP API).
    /// </summary>
    public IReadOnlyList<string> Brokers { get; init; } = [];

    /// <summary>MQTT host for announcements; defaults to the broker host.</summary>
    public string MqttHost { get => _mqttHost ?? BrokerHost; init => _mqttHost = value; }

    /// <summary>MQTT port; defaults to 8883 (MQTT over TLS), 1883 with <see cref="AgentTlsSettings.Insecure"/>.</summary>
    public int MqttPort { get => _mqttPort ?? (Tls.Insecure ? 1883 : 8883); init => _mqttPort = value; }

    /// <summary>The broker's HTTP(S) API host (enrolment, renewal); defaults to the broker host.</summary>
    public string BrokerHttpHost { get => _brokerHttpHost ?? BrokerHost; init => _brokerHttpHost = value; }
    public int BrokerHttpPort { get; init; } = 8080;

    /// <summary>
    /// Follow the fleet's revocation list on MQTT (<c>dragonfly/revoked</c>) also without
    /// subscriptions, so the peer port refuses revoked peers. The dfagent daemon does; agents hosted
    /// in another process (dfget's one-shot agent, the broker's seed) leave it to their host.
    /// </summary>
    public bool WatchRevocations { get; init; }

    /// <summary>
    /// One full, compacting collection once start-up is done, before announcements can arrive. Start-up leaves
    /// a few MiB that live on (host, identity, connections) in the young generations; the first gen0 collection
    /// would promote and compact them into fresh pages, and it came due in the first task: 15-20 ms of CPU per
    /// agent, in all of them at once when fresh agents take one announcement (16 agents on 2 cores: announcement
    /// to first piece request p50 95-371 ms, 30-57 ms settled; issue 10, session 30). The dfagent daemon does;
    /// dfget's one-shot agent, whose one task comes at once, does not.
    /// </summary>
    public bool SettleHeapAfterStart { get; init; }

    /// <summary>Certificates, enrolment and cipher choice; secure unless <see cref="AgentTlsSettings.Insecure"/>.</summary>
    public AgentTlsSettings Tls { get; init; } = new();

    public required string DataDir { get; init; }
    public IReadOnlyList<string> Subscriptions { get; init; } = [];

    /// <summary>Where completed artifacts land as &lt;output-dir&gt;/&lt;topic&gt;/&lt;name&gt; (default &lt;data-dir&gt;/downloads).</summary>
    public string OutputDir { get => _outputDir ?? Path.Combine(DataDir, "downloads"); init => _outputDir = value; }

    /// <summary>Address the agent's servers bind to; port 0 picks a free port.</summary>
    public string ListenAddress { get; init; } = "0.0.0.0";
    /// <summary>
    /// Address the local HTTP API and the registry mirror bind: loopback by default (they serve this
    /// machine). Anything else needs TLS: the HTTP API then serves HTTPS with the agent's certificate,
    /// and the mirror (plain HTTP for docker/containerd) must stay on loopback.
    /// </summary>
    public string ApiListenAddress { get; init; } = "127.0.0.1";

    /// <summary>Address peers dial to reach this agent; empty = the broker uses what it sees.</summary>
    public string AdvertiseAddress { get; init; } = "";
    public int PeerPort { get; init; } = 4000;

    /// <summary>
    /// Port of the OCI registry mirror; 0 picks one, negative = no mirror. Off by default for agents
    /// hosted in another process (a broker's seed, dfget's one-shot agent); dfagent's --proxy-port
    /// defaults to 4001.
    /// </summary>
    public int ProxyPort { get; init; } = -1;

    /// <summary>
    /// The registry the mirror serves requests without <c>?ns=&lt;registry&gt;</c> from
    /// (<c>--registry-mirror</c>, e.g. https://registry-1.docker.io); null = only <c>?ns=</c> requests.
    /// </summary>
    public Uri? RegistryMirror { get; init; }

    /// <summary>
    /// The registries (<c>host[:port]</c>, or <c>*</c> for any) a mirror request's <c>?ns=</c> may name besides
    /// <see cref="RegistryMirror"/> (<c>--allow-registry</c>); empty: none, so the mirror fetches for nobody else.
    /// </summary>
    public IReadOnlyList<string> AllowedRegistries { get; init; } = [];

    /// <summary>
    /// The group whose members may use the API socket (<c>--socket-group</c>): the socket is 0660 and the data
    /// dir 0710 of that group. Null: the data dir is 0700, the agent's user alone reaches the socket.
    /// </summary>
    public string? SocketGroup { get; init; }

    /// <summary>TCP port of the local HTTP API; 0 picks one, negative = none (the unix socket only).</summary>
    public int HttpPort { get; init; } = 4002;

    /// <summary>Bytes per second; 0 = unlimited.</summary>
    public long DownloadLimit { get; init; }
    public long UploadLimit { get; init; }

    /// <summary>
    /// The most bytes the content store may hold that only the agent holds (<c>--cache-size</c>);
    /// least recently used content nothing needs is evicted above it. 0 = no limit.
    /// </summary>
    public long CacheSize { get; init; }

    /// <summary>Free space kept on the data dir's filesystem by evicting cached content (<c>--min-free</c>).</summary>
    public FreeSpaceFloor MinFree { get; init; } = FreeSpaceFloor.None;

    public string Cluster { get; init; } = "";
    public string Zone { get; init; } = "";

    /// <summary>
    /// A seed peer: the scheduler's preferred source of URL tasks. It fetches from origins what it is
    /// told to (into its store, no output file) and serves it to the swarm.
    /// </summary>
    public bool Seed { get; init; }

    /// <summary>Pieces in flight per task (each holds one piece buffer).</summary>
    /// <summary>
    /// Hear parents' new pieces from the parents (piece-map polls) rather than through the broker
    /// (<c>--piece-news peer|broker</c>; <see cref="Transfer.TransferOptions.FollowParentMaps"/>).
    /// </summary>
    public bool ParentPieceMaps { get; init; } = true;

    /// <summary>With <see cref="ParentPieceMaps"/>: a task's piece reports go to the broker at most this often (the first at once).</summary>
    public TimeSpan PieceReportInterval { get; init; } = Swarm.PieceReportThrottle.DefaultInterval;

    public int PiecesInFlight { get; init; } = Transfer.TransferOptions.DefaultPiecesInFlight;
    /// <summary>Concurrent piece uploads this agent serves.</summary>
    public int UploadSlots { get; init; } = 4;

    /// <summary>Open peer-port connections accepted in total (--peer-max-connections); more are closed at once.</summary>
    public int MaxPeerConnections { get; init; } = 1024;

    /// <summary>Open peer-port connections accepted from one remote address (--peer-max-connections-per-address).</summary>
    public int MaxPeerConnectionsPerAddress { get; init; } = 256;

    /// <summary>How long a response write may wait on a client that does not read (--peer-send-timeout) before the connection is dropped.</summary>
    public TimeSpan PeerSendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Origins (S3-compatible servers) the agent fetches URL tasks from when it is their source.</summary>
    public OriginSettings Origins { get; init; } = new();

    /// <summary>How the agent behaves inside its process: daemon (console, signals) or in-process guest.</summary>
    public AgentHosting Hosting { get; init; } = new();

    public string SocketPath => Path.Combine(DataDir, "dfagent.sock");
}
