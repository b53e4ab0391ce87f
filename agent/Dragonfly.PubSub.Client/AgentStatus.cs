namespace Dragonfly.PubSub.Client;

/// <summary>The running agent (<c>GET /api/v1/status</c>).</summary>
public sealed record AgentStatus
{
    public required string PeerId { get; init; }
    public string Broker { get; init; } = "";
    public bool BrokerConnected { get; init; }
    public bool MqttConnected { get; init; }
    public int PeerPort { get; init; }
    public int HttpPort { get; init; }

    /// <summary>The registry mirror's port, or -1 when it is off.</summary>
    public int ProxyPort { get; init; } = -1;

    /// <summary>The mirror's default upstream registry URL (<c>--registry-mirror</c>), if any.</summary>
    public string? RegistryMirror { get; init; }
    public IReadOnlyList<string> Subscriptions { get; init; } = [];
    public string OutputDir { get; init; } = "";
    /// <summary>A seed peer (<c>dfagent --seed</c>): the preferred source of URL tasks.</summary>
    public bool Seed { get; init; }
}
