namespace Dragonfly.PubSub.Client;

/// <summary>Where to find the local agent.</summary>
public sealed record DragonflyClientOptions
{
    /// <summary>The agent's data dir; its API socket is <c>&lt;data-dir&gt;/dfagent.sock</c>.</summary>
    public string DataDir { get; init; } = DefaultDataDir;

    public string SocketPath => System.IO.Path.Combine(DataDir, "dfagent.sock");

    /// <summary><c>$DRAGONFLY_DATA_DIR</c>, else <c>~/.dragonfly</c>.</summary>
    public static string DefaultDataDir =>
        Environment.GetEnvironmentVariable("DRAGONFLY_DATA_DIR") is { Length: > 0 } dir
            ? dir
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".dragonfly");
}
