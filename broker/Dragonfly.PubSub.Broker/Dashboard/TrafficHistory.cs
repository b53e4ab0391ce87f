using Dragonfly.PubSub.Broker.Swarm;
using Microsoft.Extensions.Hosting;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// The last hour of traffic in 10-second steps, for the dashboard's charts: every step it reads the
/// activity's totals and the sessions count (a few reads, no lock shared with the swarm) and keeps
/// what moved in that step. A ring of <see cref="Capacity"/> samples; nothing is stored on disk.
/// </summary>
internal sealed class TrafficHistory(SwarmCoordinator coordinator, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan Step = TimeSpan.FromSeconds(10);

    /// <summary>One hour of steps.</summary>
    public const int Capacity = 360;

    private readonly Lock _gate = new();
    private readonly TrafficSample[] _ring = new TrafficSample[Capacity];
    private int _next;
    private int _count;
    private TrafficTotals _last;
    private DateTimeOffset _lastAt;

    /// <summary>The samples, oldest first.</summary>
    public IReadOnlyList<TrafficSample> Samples()
    {
        lock (_gate)
        {
            var samples = new TrafficSample[_count];
            for (var i = 0; i < _count; i++)
            {
                samples[i] = _ring[(_next - _count + i + Capacity) % Capacity];
            }
            return samples;
        }
    }

    /// <summary>Takes one sample now: what moved since the previous one (tests call it directly).</summary>
    public void Sample()
    {
        var now = time.GetUtcNow();
        var totals = coordinator.Activity.Totals();
        var (peers, _) = coordinator.Counts();
        lock (_gate)
        {
            var seconds = Math.Max(0.001, (now - _lastAt).TotalSeconds);
            var moved = totals.Minus(_last);
            _ring[_next] = new TrafficSample(now, moved.Demand / seconds, moved.Origin / seconds, Offload(moved), peers);
            _next = (_next + 1) % Capacity;
            _count = Math.Min(Capacity, _count + 1);
            _last = totals;
            _lastAt = now;
        }
    }

    /// <summary>The share of the copies agents got that did not come from an origin (0 when nothing moved).</summary>
    public static double Offload(TrafficTotals moved) => moved.Demand <= 0 ? 0 : (double)moved.Saved / moved.Demand;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        lock (_gate)
        {
            _last = coordinator.Activity.Totals();
            _lastAt = time.GetUtcNow();
        }
        using var timer = new PeriodicTimer(Step, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Sample();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
