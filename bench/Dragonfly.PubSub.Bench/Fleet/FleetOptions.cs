namespace Dragonfly.PubSub.Bench.Fleet;

/// <summary>One run of <c>dfbench fleet</c>. Immutable; validated by <see cref="FleetCommand"/>.</summary>
internal sealed record FleetOptions
{
    /// <summary>The broker's HTTP API, e.g. https://broker:8080 (its gRPC and MQTT ports come from GET /api/v1/status).</summary>
    public required Uri Broker { get; init; }

    public required string Topic { get; init; }

    public required long Size { get; init; }

    /// <summary>Agents to wait for; null: every online agent whose --subscribe filters match the topic when the run starts.</summary>
    public int? Agents { get; init; }

    /// <summary>How long to wait for them once published.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The fleet CA (PEM) that the broker's HTTPS certificate chains to; required for an https:// broker.</summary>
    public string? CaFile { get; init; }

    /// <summary>Join token of role publisher for the temporary publishing agent (else DFAGENT_JOIN_TOKEN); https:// only.</summary>
    public string? JoinToken { get; init; }

    /// <summary>The address the temporary publishing agent's peer port binds and the fleet's agents dial.</summary>
    public string Listen { get; init; } = "0.0.0.0";

    public string Out { get; init; } = ".";

    public bool Secure => Broker.Scheme == Uri.UriSchemeHttps;
}
