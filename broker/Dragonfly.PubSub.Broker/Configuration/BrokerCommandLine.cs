namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>Command-line values as typed; null means "not given".</summary>
public sealed record BrokerCommandLine
{
    public string? ConfigFile { get; init; }
    public string? DataDir { get; init; }
    public string? Listen { get; init; }
    public int? MqttPort { get; init; }
    public int? GrpcPort { get; init; }
    public int? HttpPort { get; init; }
    public int? SeedPort { get; init; }
    public bool NoSeed { get; init; }

    /// <summary>--file-origin-root, repeatable; empty = not given.</summary>
    public IReadOnlyList<string> FileOriginRoots { get; init; } = [];
    public bool Verbose { get; init; }
}
