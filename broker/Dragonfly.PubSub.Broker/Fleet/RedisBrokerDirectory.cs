using System.Globalization;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Dragonfly.PubSub.Broker.Fleet;

/// <summary>
/// Brokers sharing one Redis know each other by heartbeats: every <see cref="Interval"/> each writes the hash
/// <c>dragonfly:broker:&lt;id&gt;</c> (host, ports, start and beat times) with a time to live of <see cref="Ttl"/>
/// and adds its id to the set <c>dragonfly:brokers</c>. A broker whose key expired is gone; a broker that
/// stops deletes its key at once. While Redis is away the beats fail (logged once) and resume with it.
/// </summary>
public sealed class RedisBrokerDirectory(RedisState state, BrokerSelf self, TimeProvider time, ILogger<RedisBrokerDirectory> logger)
    : BackgroundService, IBrokerDirectory
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(6);

    private static readonly RedisKey Members = RedisState.Key("brokers");

    public IReadOnlyList<BrokerRecord> Live()
    {
        var db = state.Database;
        var live = new List<BrokerRecord>();
        foreach (var id in db.SetMembers(Members))
        {
            var fields = db.HashGetAll(KeyOf(id.ToString()));
            if (fields.Length == 0)
            {
                db.SetRemove(Members, id, CommandFlags.FireAndForget); // expired: gone
                continue;
            }
            var map = fields.ToDictionary(f => f.Name.ToString(), f => f.Value.ToString(), StringComparer.Ordinal);
            live.Add(new BrokerRecord(
                id.ToString(),
                map.GetValueOrDefault("host", ""),
                Int(map, "grpcPort"),
                Int(map, "httpPort"),
                DateTimeOffset.FromUnixTimeMilliseconds(Long(map, "startedAt")),
                DateTimeOffset.FromUnixTimeMilliseconds(Long(map, "lastSeen"))));
        }
        return live.OrderBy(b => b.Id, StringComparer.Ordinal).ToList();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failing = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (self.Record(time.GetUtcNow()) is { } record)
            {
                try
                {
                    // A beat stuck on a lost primary (commands wait up to 10 s for a reconnect) must not hold up the
                    // next one, which may reach the replica Sentinel promoted, before the key's time to live runs out.
                    await BeatAsync(record).WaitAsync(Interval, time, stoppingToken).ConfigureAwait(false);
                    if (failing)
                    {
                        BrokerLog.StateReconnected(logger, state.Url.Shown);
                        failing = false;
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    if (!failing)
                    {
                        BrokerLog.StateUnavailable(logger, state.Url.Shown, e.Message);
                        failing = true;
                    }
                }
            }
            try
            {
                await Task.Delay(Interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Leaving: the others need not wait for the key to expire.
            await state.Database.KeyDeleteAsync(KeyOf(self.Id)).ConfigureAwait(false);
            await state.Database.SetRemoveAsync(Members, self.Id).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Its key expires by itself.
        }
    }

    private async Task BeatAsync(BrokerRecord record)
    {
        var db = state.Database;
        var key = KeyOf(record.Id);
        var batch = db.CreateBatch();
        var set = batch.HashSetAsync(key,
        [
            new HashEntry("host", record.Host),
            new HashEntry("grpcPort", record.GrpcPort),
            new HashEntry("httpPort", record.HttpPort),
            new HashEntry("startedAt", record.StartedAt.ToUnixTimeMilliseconds()),
            new HashEntry("lastSeen", record.LastSeen.ToUnixTimeMilliseconds()),
        ]);
        var expire = batch.KeyExpireAsync(key, Ttl);
        var member = batch.SetAddAsync(Members, record.Id);
        batch.Execute();
        await Task.WhenAll(set, expire, member).ConfigureAwait(false);
    }

    private static RedisKey KeyOf(string id) => RedisState.Key("broker:" + id);

    private static int Int(Dictionary<string, string> map, string name) =>
        int.TryParse(map.GetValueOrDefault(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;

    private static long Long(Dictionary<string, string> map, string name) =>
        long.TryParse(map.GetValueOrDefault(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;
}
