using System.Text.Json;
using Dragonfly.PubSub.Broker.Fleet;
using Dragonfly.PubSub.Broker.State;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// Brokers sharing one Redis show the whole fleet: every <see cref="Interval"/> each builds its own dashboard view
/// (bounded: at most <see cref="DashboardBuilder.MaxAgents"/> agents and <see cref="DashboardBuilder.MaxTasks"/>
/// tasks) and writes its agents and tasks as JSON to <c>dragonfly:view:&lt;id&gt;</c> with a time to live of
/// <see cref="Ttl"/>; an API answer reads the other live brokers' keys (one GET each, from the heartbeat
/// directory) and merges them (<see cref="FleetMerge"/>). The load is one build and one write per broker every
/// few seconds, whatever the number of readers (their answers are cached a second, <see cref="DashboardCache"/>).
/// </summary>
internal sealed class RedisFleetShares(RedisState state, DashboardBuilder builder, IBrokerDirectory brokers, BrokerSelf self, TimeProvider time)
    : BackgroundService, IFleetShares
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(10);

    public async Task<IReadOnlyList<FleetShare>> OthersAsync(CancellationToken cancellationToken)
    {
        try
        {
            var others = brokers.Live().Where(b => b.Id != self.Id).ToList();
            var values = await Task.WhenAll(others.Select(b => state.Database.StringGetAsync(KeyOf(b.Id)))).ConfigureAwait(false);
            var shares = new List<FleetShare>();
            foreach (var value in values.Where(v => v.HasValue))
            {
                try
                {
                    shares.Add(JsonSerializer.Deserialize((byte[])value!, DashboardJsonContext.Default.FleetShare)!);
                }
                catch (JsonException)
                {
                    // A broker of another version may write another shape: its view is left out, not the answer.
                }
            }
            return shares;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return []; // Redis away: this broker's own view still answers.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var view = await builder.BuildAsync(null, stoppingToken).ConfigureAwait(false);
                var share = new FleetShare(self.Id, view.GeneratedAt, view.Fleet.Agents, [.. view.Tasks.Where(t => t.Live)]);
                await state.Database.StringSetAsync(KeyOf(self.Id), JsonSerializer.SerializeToUtf8Bytes(share, DashboardJsonContext.Default.FleetShare), Ttl)
                    .WaitAsync(Interval, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Redis away: the heartbeats log it; the share is written again with the next one.
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

    private static RedisKey KeyOf(string id) => RedisState.Key("view:" + id);
}
