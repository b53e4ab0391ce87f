using System.Globalization;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// One Redis Sentinel (Debian's <c>redis-server --sentinel</c>) on 127.0.0.1 watching the primary
/// <see cref="RedisSentinelGroup.ServiceName"/>: down after one second without an answer, failed over when
/// <c>quorum</c> Sentinels agree. Its config file is its own (Sentinel rewrites it with what it learns).
/// </summary>
public sealed class RedisSentinel : LoopbackServer
{
    private const string Executable = "/usr/bin/redis-server";

    private readonly string _serviceName;
    private readonly int _primaryPort;
    private readonly int _quorum;

    private RedisSentinel(string root, string serviceName, int primaryPort, int quorum)
        : base(root) => (_serviceName, _primaryPort, _quorum) = (serviceName, primaryPort, quorum);

    public static Task<RedisSentinel> StartAsync(string serviceName, int primaryPort, int quorum)
    {
        RequireInstalled(Executable, "redis-server");
        return StartOnFreePortAsync(new RedisSentinel(Directory.CreateTempSubdirectory("dragonfly-sentinel-").FullName, serviceName, primaryPort, quorum));
    }

    /// <summary><c>redis-cli -p PORT ARGS…</c> against this Sentinel: its answer, one value a line.</summary>
    public async Task<IReadOnlyList<string>> AskAsync(params string[] args)
    {
        var result = await ProcessRunner.RunAsync("/usr/bin/redis-cli",
            ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), .. args], timeout: TimeSpan.FromSeconds(10));
        return result.ExitCode == 0 ? result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
    }

    protected override Task<ServerProcess> LaunchAsync()
    {
        var config = Path.Combine(Root, "sentinel.conf");
        var port = Port.ToString(CultureInfo.InvariantCulture);
        File.WriteAllText(config, $"""
            port {port}
            bind 127.0.0.1
            daemonize no
            dir {Root}
            sentinel monitor {_serviceName} 127.0.0.1 {_primaryPort.ToString(CultureInfo.InvariantCulture)} {_quorum.ToString(CultureInfo.InvariantCulture)}
            sentinel down-after-milliseconds {_serviceName} 1000
            sentinel failover-timeout {_serviceName} 10000
            sentinel parallel-syncs {_serviceName} 1

            """);
        return Task.FromResult(ServerProcess.Start("redis-sentinel", Executable, [config, "--sentinel"], Root));
    }
}
