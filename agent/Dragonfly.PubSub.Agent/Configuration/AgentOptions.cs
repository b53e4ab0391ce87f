namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>
/// Everything an agent is told at start (flags over environment over config file). Immutable:
/// runtime state lives in the components, not here.
/// </summary>
public sealed record AgentOptions
{
    /// <summary>Broker gRPC endpoint as host:port (default port 8002).</summary>
    public required string BrokerHost { get; init; }
    public int BrokerGrpcPort { get; init; } = 8002;
    public required string MqttHost { get; init; }
    public int MqttPort { get; init; } = 1883;

    public required string DataDir { get; init; }
    public IReadOnlyList<string> Subscriptions { get; init; } = [];
    /// <summary>Where completed artifacts land as &lt;output-dir&gt;/&lt;topic&gt;/&lt;name&gt;.</summary>
    public required string OutputDir { get; init; }

    /// <summary>Address the agent's servers bind to; port 0 picks a free port.</summary>
    public string ListenAddress { get; init; } = "0.0.0.0";
    /// <summary>Address peers dial to reach this agent; empty = the broker uses what it sees.</summary>
    public string AdvertiseAddress { get; init; } = "";
    public int PeerPort { get; init; } = 4000;
    public int ProxyPort { get; init; } = 4001;
    public int HttpPort { get; init; } = 4002;

    /// <summary>Bytes per second; 0 = unlimited.</summary>
    public long DownloadLimit { get; init; }
    public long UploadLimit { get; init; }

    public string Cluster { get; init; } = "";
    public string Zone { get; init; } = "";
    public bool Seed { get; init; }

    /// <summary>Pieces in flight per task (each holds one piece buffer).</summary>
    public int PiecesInFlight { get; init; } = 8;
    /// <summary>Concurrent piece uploads this agent serves.</summary>
    public int UploadSlots { get; init; } = 4;

    public string SocketPath => Path.Combine(DataDir, "dfagent.sock");
}
