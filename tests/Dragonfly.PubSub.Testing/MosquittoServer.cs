namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real Mosquitto (Debian's <c>mosquitto</c>, MQTT 5) on 127.0.0.1 with its own config in a temp dir, run
/// in the foreground so that killing its PID stops it at once. It stands for an MQTT broker an operator
/// already runs: anonymous clients may publish and subscribe (its ACLs let dfbroker publish).
/// </summary>
public sealed class MosquittoServer : IDisposable
{
    private const string Executable = "/usr/sbin/mosquitto";

    private ServerProcess? _process;

    private MosquittoServer(string root) => Root = root;

    public string Root { get; }

    public int Port { get; private set; }

    /// <summary><c>mqtt://127.0.0.1:PORT</c>.</summary>
    public string Url => $"mqtt://127.0.0.1:{Port}";

    /// <summary>What Mosquitto logged (connections, subscriptions, errors).</summary>
    public string Output => _process?.Output ?? "";

    public static async Task<MosquittoServer> StartAsync()
    {
        if (!File.Exists(Executable))
        {
            throw new FileNotFoundException("mosquitto is not installed; run eng/test.sh (it installs the test dependencies, here the Debian package mosquitto)", Executable);
        }
        var server = new MosquittoServer(Directory.CreateTempSubdirectory("dragonfly-mosquitto-").FullName);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                server.Port = FreePort.Next();
                try
                {
                    await server.StartProcessAsync();
                    return server;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    // Another process took the port between probing and binding: pick another one.
                }
            }
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL: connections are cut, new ones refused.</summary>
    public void Kill() => _process?.Kill();

    public void Dispose()
    {
        try
        {
            _process?.Dispose();
        }
        finally
        {
            TempDirectory.Delete(Root);
        }
    }

    private async Task StartProcessAsync()
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
        _process?.Dispose();
        _process = ServerProcess.Start("mosquitto", Executable, ["-c", config], Root);
        await FreePort.WaitUntilListeningAsync(Port, _process, TimeSpan.FromSeconds(10));
    }
}
