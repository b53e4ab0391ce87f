using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>How agent B did in one way of pulling the file.</summary>
internal sealed record AgentTransfer
{
    public required double Seconds { get; init; }

    [JsonPropertyName("gibPerSecond")]
    public required double GiBPerSecond { get; init; }

    /// <summary>This throughput divided by nginx→curl's in the same run (target ≥ 0.75).</summary>
    public required double Ratio { get; init; }

    /// <summary>VmHWM of agent B at the end of the transfer; B started fresh for it (target ≤ 100 MiB).</summary>
    public required long AgentPeakRssBytes { get; init; }

    /// <summary>VmRSS of agent B just before the transfer: what it holds idle, connected to the broker.</summary>
    public required long AgentIdleRssBytes { get; init; }

    /// <summary>CPU seconds agent B used during the transfer.</summary>
    public required double AgentCpuSeconds { get; init; }

    /// <summary>CPU seconds agent A (the publisher, serving the pieces) used during the transfer.</summary>
    public required double PublisherCpuSeconds { get; init; }

    /// <summary>
    /// Whether this transfer ran over TLS, checked from outside the processes: the broker's /healthz said
    /// <c>"tls": true</c> and agents A and B each held a certificate of the broker's fleet CA (they had enrolled).
    /// </summary>
    public bool Encrypted { get; init; }
}
