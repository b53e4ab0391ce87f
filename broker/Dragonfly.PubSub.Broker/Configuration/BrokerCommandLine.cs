namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>Command-line values as typed; null means "not given".</summary>
public sealed record BrokerCommandLine
{
    public string? ConfigFile { get; init; }
    public string? DataDir { get; init; }
    public string? Listen { get; init; }
    public int? MqttPort { get; init; }

    /// <summary>--mqtt-url: an external MQTT 5 broker for announcements.</summary>
    public string? MqttUrl { get; init; }

    /// <summary>--state: shared state of several brokers (redis://…).</summary>
    public string? State { get; init; }

    // Across clusters (issue 12): an MQTT bridge brings another cluster's announcements.
    /// <summary>--bridge-from: the other cluster's brokers (HOST:PORT of their schedulers, comma-separated) whose announcements are bridged in.</summary>
    public string? BridgeFrom { get; init; }

    /// <summary>--bridge-to: this cluster's brokers (HOST:PORT,…) as its agents name them, for the bridge's local member.</summary>
    public string? BridgeTo { get; init; }
    public int? GrpcPort { get; init; }
    public int? HttpPort { get; init; }
    public int? SeedPort { get; init; }

    /// <summary>--seed-upload-limit: a rate as typed (e.g. 11MiB per second).</summary>
    public string? SeedUploadLimit { get; init; }
    public bool NoSeed { get; init; }

    /// <summary>--file-origin-root, repeatable; empty = not given.</summary>
    public IReadOnlyList<string> FileOriginRoots { get; init; } = [];

    /// <summary>--s3-bucket, repeatable; empty = not given.</summary>
    public IReadOnlyList<string> S3Buckets { get; init; } = [];

    /// <summary>--allow-origin, repeatable; empty = not given.</summary>
    public IReadOnlyList<string> AllowOrigins { get; init; } = [];
    public bool Verbose { get; init; }

    public int? MqttsPort { get; init; }
    public bool Insecure { get; init; }
    public string? TlsCa { get; init; }
    public string? TlsCaKey { get; init; }
    public string? TlsCert { get; init; }
    public string? TlsKey { get; init; }

    /// <summary>--tls-san, repeatable; empty = not given.</summary>
    public IReadOnlyList<string> TlsSans { get; init; } = [];
    public string? CertTtl { get; init; }
    public string? TlsCiphers { get; init; }
}
