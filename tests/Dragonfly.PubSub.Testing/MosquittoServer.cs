namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real Mosquitto (Debian's <c>mosquitto</c>, MQTT 5) on 127.0.0.1 with its own config in a temp dir, run
/// in the foreground so that killing its PID stops it at once. It stands for an MQTT broker an operator
/// already runs: anonymous clients may publish and subscribe (its ACLs let dfbroker publish).
/// </summary>
public sealed class MosquittoServer : LoopbackServer
{
    private const string Executable = "/usr/sbin/mosquitto";

    private MosquittoServer(string root)
        : base(root)
    {
    }

    /// <summary><c>mqtt://127.0.0.1:PORT</c>.</summary>
    public string Url => $"mqtt://127.0.0.1:{Port}";

    public static Task<MosquittoServer> StartAsync()
    {
        RequireInstalled(Executable, "mosquitto");
        return StartOnFreePortAsync(new MosquittoServer(Directory.CreateTempSubdirectory("dragonfly-mosquitto-").FullName));
    }

    protected override async Task<ServerProcess> LaunchAsync()
    {
        var config = Path.Combine(Root, "mosquitto.conf");
        await File.WriteAllTextAsync(config, $"""
            per_listener_settings false
            listener {Port} 127.0.0.1
            allow_anonymous true
            persistence false
            set_tcp_nodelay true
            max_queued_messages 100000
            log_dest stdout
            log_type error
            log_type warning
            log_type notice
            log_type information
            connection_messages true
            """);
        return ServerProcess.Start("mosquitto", Executable, ["-c", config], Root);
    }
}
