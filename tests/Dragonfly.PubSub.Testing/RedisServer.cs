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

    private readonly int? _replicaOf;

    private RedisServer(string root, int? replicaOf = null)
        : base(root) => _replicaOf = replicaOf;

    /// <summary><c>redis://127.0.0.1:PORT</c>: what <c>dfbroker --state</c> takes.</summary>
    public string Url => $"redis://127.0.0.1:{Port}";

    public static Task<RedisServer> StartAsync()
    {
        RequireInstalled(Executable, "redis-server");
        return StartOnFreePortAsync(new RedisServer(Directory.CreateTempSubdirectory("dragonfly-redis-").FullName));
    }

    /// <summary>A replica of <paramref name="primary"/> (<c>--replicaof</c>), as under Redis Sentinel.</summary>
    public static Task<RedisServer> StartReplicaAsync(RedisServer primary)
    {
        ArgumentNullException.ThrowIfNull(primary);
        RequireInstalled(Executable, "redis-server");
        return StartOnFreePortAsync(new RedisServer(Directory.CreateTempSubdirectory("dragonfly-redis-replica-").FullName, primary.Port));
    }

    /// <summary>Starts it again on the same port and data (after <see cref="LoopbackServer.Kill"/>): what was written is in the append-only file.</summary>
    public Task RestartAsync() => StartProcessAsync();

    // Arguments as an operator types them; the (empty) config file is there because Sentinel rewrites the
    // config of a replica it promotes (CONFIG REWRITE), which a server started without one refuses.
    protected override Task<ServerProcess> LaunchAsync()
    {
        var config = Path.Combine(Root, "redis.conf");
        if (!File.Exists(config))
        {
            File.WriteAllText(config, "");
        }
        List<string> args =
        [
            config,
            "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--dir", Root, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "notice",
        ];
        if (_replicaOf is { } primaryPort)
        {
            args.AddRange(["--replicaof", "127.0.0.1", primaryPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        return Task.FromResult(ServerProcess.Start(_replicaOf is null ? "redis" : "redis-replica", Executable, args, Root));
    }
}
