using System.Diagnostics;
using System.Globalization;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// Redis under Sentinel, the smallest set an operator would run: a primary, one replica and three Sentinels
/// (quorum 2), all real <c>redis-server</c> processes on 127.0.0.1. <see cref="Url"/> is what
/// <c>dfbroker --state</c> takes; <see cref="KillPrimaryAndAwaitFailoverAsync"/> SIGKILLs the primary and waits
/// until the Sentinels have promoted the replica.
/// </summary>
public sealed class RedisSentinelGroup : IDisposable
{
    public const string ServiceName = "dragonfly";

    private const int Quorum = 2;

    private RedisSentinelGroup(RedisServer primary, RedisServer replica, IReadOnlyList<RedisSentinel> sentinels) =>
        (Primary, Replica, Sentinels) = (primary, replica, sentinels);

    public RedisServer Primary { get; }

    public RedisServer Replica { get; }

    public IReadOnlyList<RedisSentinel> Sentinels { get; }

    /// <summary><c>redis-sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/dragonfly</c>.</summary>
    public string Url => "redis-sentinel://" + string.Join(",", Sentinels.Select(s => $"127.0.0.1:{s.Port.ToString(CultureInfo.InvariantCulture)}")) + "/" + ServiceName;

    /// <summary>Starts them all and waits until every Sentinel knows the replica and the two other Sentinels.</summary>
    public static async Task<RedisSentinelGroup> StartAsync()
    {
        var primary = await RedisServer.StartAsync();
        RedisServer? replica = null;
        var sentinels = new List<RedisSentinel>();
        try
        {
            replica = await RedisServer.StartReplicaAsync(primary);
            await WaitUntilAsync("the replica to be in sync with the primary", TimeSpan.FromSeconds(20),
                async () => (await InfoAsync(replica.Port, "replication")).GetValueOrDefault("master_link_status") == "up");
            for (var i = 0; i < 3; i++)
            {
                sentinels.Add(await RedisSentinel.StartAsync(ServiceName, primary.Port, Quorum));
            }
            var group = new RedisSentinelGroup(primary, replica, sentinels);
            // Sentinels find each other through the primary's hello channel (every 2 s); a failover needs them all.
            await WaitUntilAsync("every Sentinel to know the replica and the two other Sentinels", TimeSpan.FromSeconds(30), async () =>
            {
                foreach (var sentinel in sentinels)
                {
                    var master = Pairs(await sentinel.AskAsync("sentinel", "master", ServiceName));
                    if (master.GetValueOrDefault("num-other-sentinels") != "2" || master.GetValueOrDefault("num-slaves") != "1")
                    {
                        return false;
                    }
                }
                return true;
            });
            return group;
        }
        catch
        {
            sentinels.ForEach(s => s.Dispose());
            replica?.Dispose();
            primary.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILLs the primary; returns once every Sentinel names the replica as primary and it says so itself.</summary>
    public async Task<TimeSpan> KillPrimaryAndAwaitFailoverAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        Primary.Kill();
        var replicaAddress = Replica.Port.ToString(CultureInfo.InvariantCulture);
        await WaitUntilAsync($"the Sentinels to promote the replica (port {replicaAddress})", timeout, async () =>
        {
            foreach (var sentinel in Sentinels)
            {
                var address = await sentinel.AskAsync("sentinel", "get-master-addr-by-name", ServiceName);
                if (address.Count != 2 || address[1] != replicaAddress)
                {
                    return false;
                }
            }
            return (await InfoAsync(Replica.Port, "replication")).GetValueOrDefault("role") == "master";
        });
        return clock.Elapsed;
    }

    /// <summary>What the Sentinels and the servers logged, for failure messages.</summary>
    public string Output => string.Join("\n", new[] { ("primary", Primary.Output), ("replica", Replica.Output) }
        .Concat(Sentinels.Select((s, i) => ($"sentinel{i + 1}", s.Output)))
        .Select(p => $"--- {p.Item1}\n{p.Item2}"));

    public void Dispose()
    {
        foreach (var sentinel in Sentinels)
        {
            sentinel.Dispose();
        }
        Replica.Dispose();
        Primary.Dispose();
    }

    private static async Task<Dictionary<string, string>> InfoAsync(int port, string section)
    {
        var result = await ProcessRunner.RunAsync("/usr/bin/redis-cli",
            ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "info", section], timeout: TimeSpan.FromSeconds(10));
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
    }

    // redis-cli prints a map as alternating key and value lines.
    private static Dictionary<string, string> Pairs(IReadOnlyList<string> lines)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < lines.Count; i += 2)
        {
            map[lines[i]] = lines[i + 1];
        }
        return map;
    }

    private static async Task WaitUntilAsync(string what, TimeSpan timeout, Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            }
            await Task.Delay(200);
        }
    }
}
