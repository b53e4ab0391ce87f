using System.Net;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>The resolved broker settings (flags &gt; environment &gt; config file &gt; defaults). Immutable.</summary>
public sealed record BrokerOptions
{
    public const int DefaultMqttPort = 1883;
    public const int DefaultGrpcPort = 8002;
    public const int DefaultHttpPort = 8080;
    public const int DefaultMaxParents = 6;

    public required string DataDir { get; init; }
    public IPAddress Listen { get; init; } = IPAddress.Any;
    public int MqttPort { get; init; } = DefaultMqttPort;
    public int GrpcPort { get; init; } = DefaultGrpcPort;
    public int HttpPort { get; init; } = DefaultHttpPort;
    public int MaxParents { get; init; } = DefaultMaxParents;
    public bool Verbose { get; init; }

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
