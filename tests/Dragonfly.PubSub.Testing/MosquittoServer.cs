namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real Mosquitto (Debian's <c>mosquitto</c>, MQTT 5) on 127.0.0.1 with its own config in a temp dir, run
/// in the foreground so that killing its PID stops it at once. It stands for an MQTT broker an operator
/// already runs: anonymous clients may publish and subscribe (its ACLs let dfbroker publish).
/// <para>
/// <see cref="StartPersistentAsync"/> keeps retained messages and sessions (subscriptions, queued QoS 1
/// messages) in <c>mosquitto.db</c> in its temp dir and writes it after every change, so that
/// <see cref="LoopbackServer.Kill"/> followed by <see cref="RestartAsync"/> loses nothing written up to the
/// last save, as README "Several brokers" tells operators to configure it. Mosquitto saves only every
/// <c>autosave_interval</c> (30 min by default) and at a clean exit, so a SIGKILLed default one forgets all.
/// </para>
/// </summary>
public sealed class MosquittoServer : LoopbackServer
{
    private const string Executable = "/usr/sbin/mosquitto";

    private readonly bool _persistent;
    private readonly IReadOnlyList<string> _extraConfig;

    private MosquittoServer(string root, bool persistent, IReadOnlyList<string> extraConfig)
        : base(root)
    {
        _persistent = persistent;
        _extraConfig = extraConfig;
    }

    /// <summary><c>mqtt://127.0.0.1:PORT</c>.</summary>
    public string Url => $"mqtt://127.0.0.1:{Port}";

    /// <summary>Where a persistent one keeps its data (retained messages, sessions).</summary>
    public string DatabaseFile => Path.Combine(Root, "mosquitto.db");

    /// <summary>An in-memory Mosquitto (persistence off).</summary>
    public static Task<MosquittoServer> StartAsync() => StartAsync(persistent: false, []);

    /// <summary>A Mosquitto that saves its data after every change, so that it survives a SIGKILL and <see cref="RestartAsync"/>.</summary>
    public static Task<MosquittoServer> StartPersistentAsync() => StartAsync(persistent: true, []);

    /// <summary>
    /// A Mosquitto with <paramref name="extraConfig"/> lines appended to its config (e.g. a bridge's
    /// <c>connection</c>, <c>address</c> and <c>topic</c> lines).
    /// </summary>
    public static Task<MosquittoServer> StartAsync(bool persistent, IReadOnlyList<string> extraConfig)
    {
        RequireInstalled(Executable, "mosquitto");
        return StartOnFreePortAsync(new MosquittoServer(Directory.CreateTempSubdirectory("dragonfly-mosquitto-").FullName, persistent, extraConfig));
    }

    /// <summary>Starts it again on the same port and data (after <see cref="LoopbackServer.Kill"/>).</summary>
    public Task RestartAsync() => StartProcessAsync();

    protected override async Task<ServerProcess> LaunchAsync()
    {
        var config = Path.Combine(Root, "mosquitto.conf");
        // Started as root (CI), Mosquitto would switch to the user 'mosquitto', who may not write the temp dir.
        var persistence = _persistent
            ? $"""
              persistence true
              persistence_location {Root}/
              autosave_on_changes true
              autosave_interval 1
              """
            : "persistence false";
        await File.WriteAllTextAsync(config, string.Join('\n', [$"""
            per_listener_settings false
            listener {Port} 127.0.0.1
            allow_anonymous true
            user {Environment.UserName}
            {persistence}
            set_tcp_nodelay true
            max_queued_messages 100000
            log_dest stderr
            log_type error
            log_type warning
            log_type notice
            log_type information
            connection_messages true
            """, .. _extraConfig]) + "\n");
        return ServerProcess.Start("mosquitto", Executable, ["-c", config], Root);
    }
}
