using System.Net;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Origins.S3;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>The resolved broker settings (flags &gt; environment &gt; config file &gt; defaults). Immutable.</summary>
public sealed record BrokerOptions
{
    public const int DefaultMqttPort = 1883;
    public const int DefaultGrpcPort = 8002;
    public const int DefaultHttpPort = 8080;

    /// <summary>
    /// Peers in a ParentSet besides the publisher and seeds (config <c>maxParents</c>, <c>DFBROKER_MAX_PARENTS</c>).
    /// 16 rather than 6 (session 11): with 6, a child of a 16-agent swarm saw too few parents holding what it
    /// lacked and the swarm took 2.1 × D_min, behind aria2c; with 16, 1.57–1.91 and the publisher sends one
    /// copy. The price is on the broker: every piece report is relayed to each child of the reporter.
    /// </summary>
    public const int DefaultMaxParents = 16;
    public const int DefaultSeedPort = 8003;
    public const int DefaultMqttsPort = 8883;

    /// <summary>The admin socket of <c>dfbroker token|cert</c>, in the data dir (mode 0600: local root is admin).</summary>
    public const string AdminSocketName = "dfbroker.sock";

    /// <summary>The broker's seed lives in &lt;data-dir&gt;/seed.</summary>
    public const string SeedDirectoryName = "seed";

    public required string DataDir { get; init; }

    /// <summary>
    /// One full, compacting collection once start-up is done, before the ready line, for the reason given at
    /// AgentOptions.SettleHeapAfterStart: here every join and parent set of the first tasks waits on this process.
    /// Set by the dfbroker command line; a process that hosts brokers in-process (the tests) collects its own heap.
    /// </summary>
    public bool SettleHeapAfterStart { get; init; }
    public IPAddress Listen { get; init; } = IPAddress.Any;
    public int MqttPort { get; init; } = DefaultMqttPort;
    public int GrpcPort { get; init; } = DefaultGrpcPort;
    public int HttpPort { get; init; } = DefaultHttpPort;
    public int MaxParents { get; init; } = DefaultMaxParents;

    /// <summary>
    /// A content task's announcement carries its manifest when that is at most this many bytes (0: never; agents
    /// then ask the scheduler for it). Lower it for an external MQTT broker with a small packet limit.
    /// </summary>
    public int AnnounceManifestMax { get; init; } = Contracts.Announcement.DefaultInlineManifestMax;

    /// <summary>MQTT over TLS with client certificates (secure mode; the plain <see cref="MqttPort"/> is then not opened).</summary>
    public int MqttsPort { get; init; } = DefaultMqttsPort;

    /// <summary>
    /// An external MQTT 5 broker that carries the announcements instead of the embedded server (which then
    /// opens no listener); agents learn it from the scheduler's Welcome. Null: the embedded server.
    /// </summary>
    public MqttUrl? MqttUrl { get; init; }

    /// <summary>
    /// Shared state of several brokers (catalogue, preheat jobs, heartbeats) in Redis (<c>--state</c>); null:
    /// the broker's own LiteDB in <see cref="DataDir"/>, the single-broker default.
    /// </summary>
    public State.StateUrl? State { get; init; }

    // Across clusters (issue 12): see Bridge/BridgeImporter.
    /// <summary>
    /// The schedulers (HOST:PORT) of another cluster's brokers whose announcements an MQTT bridge brings into
    /// <c>dragonfly/bridged/#</c> of <see cref="MqttUrl"/>; empty: no bridge. Their content is fetched once from
    /// that cluster's swarm and published in this one. With several, the bridge's remote member places each
    /// file over them as that cluster's agents do, and moves on when one is lost.
    /// </summary>
    public IReadOnlyList<string> BridgeFrom { get; init; } = [];

    /// <summary>
    /// This cluster's brokers as its agents are given them (<c>--broker</c>), for the bridge's local member, so
    /// that a bridged file is published on the broker its digest hashes to; empty: this broker alone.
    /// </summary>
    public IReadOnlyList<string> BridgeTo { get; init; } = [];

    /// <summary>Another cluster is bridged in (<see cref="BridgeFrom"/>).</summary>
    public bool Bridged => BridgeFrom.Count > 0;

    /// <summary><see cref="BridgeFrom"/> as given, for logs and the bridged files' label.</summary>
    public string BridgeFromShown => string.Join(",", BridgeFrom);

    /// <summary>TLS and identity; secure unless <see cref="BrokerTlsOptions.Insecure"/>.</summary>
    public BrokerTlsOptions Tls { get; init; } = new();
    public bool Verbose { get; init; }

    /// <summary>Host the in-process seed peer, the preferred source of URL tasks (off: --no-seed, config seed: false).</summary>
    public bool Seed { get; init; } = true;

    /// <summary>The seed's peer port (pieces are served there); 0 picks a free one.</summary>
    public int SeedPort { get; init; } = DefaultSeedPort;

    /// <summary>
    /// The seed's upload cap in bytes per second; 0: none. Set it a little below the uplink where the seed's
    /// uploads share a FIFO queue with the scheduler's traffic, so parent sets and relays do not wait behind pieces.
    /// </summary>
    public long SeedUploadLimit { get; init; }

    /// <summary>The S3 endpoint and credentials for s3:// URL tasks (config s3* keys over the AWS_* environment).</summary>
    public S3OriginOptions S3 { get; init; } = new();

    /// <summary>Directories (absolute) under which file:// URL tasks are allowed; empty: none are.</summary>
    public IReadOnlyList<string> FileOriginRoots { get; init; } = [];

    /// <summary>The buckets s3:// URL tasks may name (<c>--s3-bucket</c>); empty: none are allowed.</summary>
    public IReadOnlyList<string> S3Buckets { get; init; } = [];

    /// <summary>
    /// Where the broker (URL task stats) and its seed may fetch origins from: public addresses, plus the
    /// internal ones named by <c>--allow-origin</c> (server-side request forgery guard).
    /// </summary>
    public EgressPolicy Egress { get; init; } = EgressPolicy.PublicOnlyWithoutAllowances;

    /// <summary>Container registry logins for preheat (config <c>registries</c>, env DFBROKER_REGISTRY_USERNAME/PASSWORD).</summary>
    public RegistryCredentials Registries { get; init; } = RegistryCredentials.None;

    public string SeedDataDir => Path.Combine(DataDir, SeedDirectoryName);

    public string AdminSocketPath => Path.Combine(DataDir, AdminSocketName);

    /// <summary><c>$DFBROKER_DATA_DIR</c> or <c>~/.dragonfly/broker</c>.</summary>
    public static string DefaultDataDir(Func<string, string?> environment)
    {
        var fromEnvironment = environment("DFBROKER_DATA_DIR");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return fromEnvironment;
        }
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dragonfly", "broker");
    }
}
