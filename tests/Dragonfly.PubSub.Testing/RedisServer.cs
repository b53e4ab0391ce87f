namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real Redis (Debian's <c>redis-server</c>) on 127.0.0.1, the shared state of several brokers
/// (<c>dfbroker --state</c>). Its data (append-only file on, fsync every second) lives in a temp dir, so
/// <see cref="Kill"/> followed by <see cref="RestartAsync"/> brings back everything written up to a second
/// before, as a supervisor restarting a crashed Redis would. Stopped by its own PID only.
/// </summary>
public sealed class RedisServer : LoopbackServer
{
    private const string Executable = "/usr/bin/redis-server";

    private RedisServer(string root)
        : base(root)
    {
    }

    /// <summary><c>redis://127.0.0.1:PORT</c>: what <c>dfbroker --state</c> takes.</summary>
    public string Url => $"redis://127.0.0.1:{Port}";

    public static Task<RedisServer> StartAsync()
    {
        RequireInstalled(Executable, "redis-server");
        return StartOnFreePortAsync(new RedisServer(Directory.CreateTempSubdirectory("dragonfly-redis-").FullName));
    }

    /// <summary>Starts it again on the same port and data (after <see cref="LoopbackServer.Kill"/>): what was written is in the append-only file.</summary>
    public Task RestartAsync() => StartProcessAsync();

    // Arguments rather than a config file: the same as "redis-server --port ..." an operator types.
    protected override Task<ServerProcess> LaunchAsync() => Task.FromResult(ServerProcess.Start("redis", Executable,
    [
        "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
        "--dir", Root, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "notice",
    ], Root));
}
