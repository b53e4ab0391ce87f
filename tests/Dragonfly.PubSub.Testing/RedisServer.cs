namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real Redis (Debian's <c>redis-server</c>) on 127.0.0.1, the shared state of several brokers
/// (<c>dfbroker --state</c>). Its data (append-only file on, fsync every second) lives in a temp dir, so
/// <see cref="Kill"/> followed by <see cref="RestartAsync"/> brings back everything written up to a second
/// before, as a supervisor restarting a crashed Redis would. Stopped by its own PID only.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private const string Executable = "/usr/bin/redis-server";

    private ServerProcess? _process;

    private RedisServer(string root) => Root = root;

    public string Root { get; }

    public int Port { get; private set; }

    /// <summary><c>redis://127.0.0.1:PORT</c>: what <c>dfbroker --state</c> takes.</summary>
    public string Url => $"redis://127.0.0.1:{Port}";

    public string Output => _process?.Output ?? "";

    public static async Task<RedisServer> StartAsync()
    {
        if (!File.Exists(Executable))
        {
            throw new FileNotFoundException("redis-server is not installed; run eng/test.sh (it installs the test dependencies, here the Debian package redis-server)", Executable);
        }
        var server = new RedisServer(Directory.CreateTempSubdirectory("dragonfly-redis-").FullName);
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

    /// <summary>SIGKILL: connections are cut; what was written is in the append-only file.</summary>
    public void Kill() => _process?.Kill();

    /// <summary>Starts it again on the same port and data (after <see cref="Kill"/>).</summary>
    public Task RestartAsync() => StartProcessAsync();

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
        _process?.Dispose();
        // Arguments rather than a config file: the same as "redis-server --port ..." an operator types.
        _process = ServerProcess.Start("redis", Executable,
        [
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--dir", Root, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "notice",
        ], Root);
        await FreePort.WaitUntilListeningAsync(Port, _process, TimeSpan.FromSeconds(10));
    }
}
