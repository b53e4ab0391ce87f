using System.Diagnostics;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// Operators' dashboards during the load (<c>--dashboard-pollers</c>, <c>--dashboard-streams</c>): pollers GET
/// /api/v1/dashboard every second, streams hold /api/v1/dashboard/events open and read its events, so that the
/// report can say what keeping the page open costs the broker.
/// </summary>
internal sealed class DashboardReaders(int port, int pollers, int streams)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private long _polls, _events, _failures, _bytes;
    private readonly List<double> _pollMs = [];

    public Task RunAsync(CancellationToken stop)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = pollers + streams + 1 })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}/"),
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var readers = Enumerable.Range(0, pollers).Select(_ => PollAsync(http, stop))
            .Concat(Enumerable.Range(0, streams).Select(_ => StreamAsync(http, stop)));
        return Task.WhenAll(readers).ContinueWith(_ => http.Dispose(), TaskScheduler.Default);
    }

    public Measurement.DashboardFigures Figures(double seconds)
    {
        double[] latencies;
        lock (_pollMs)
        {
            latencies = [.. _pollMs];
        }
        return new Measurement.DashboardFigures(pollers, streams, Interlocked.Read(ref _polls), Interlocked.Read(ref _events),
            Interlocked.Read(ref _failures), Interlocked.Read(ref _bytes) / Math.Max(0.001, seconds), Measurement.LatencySummary.Of(latencies));
    }

    private async Task PollAsync(HttpClient http, CancellationToken stop)
    {
        // Spread over the interval, as pages opened at different moments would be.
        await Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(1000)), stop);
        while (!stop.IsCancellationRequested)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var body = await http.GetByteArrayAsync("api/v1/dashboard", stop);
                Interlocked.Add(ref _bytes, body.Length);
                Interlocked.Increment(ref _polls);
                lock (_pollMs)
                {
                    _pollMs.Add(clock.Elapsed.TotalMilliseconds);
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failures);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            await Delay(PollInterval - clock.Elapsed, stop);
        }
    }

    private async Task StreamAsync(HttpClient http, CancellationToken stop)
    {
        try
        {
            using var response = await http.GetAsync("api/v1/dashboard/events", HttpCompletionOption.ResponseHeadersRead, stop);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop));
            while (await reader.ReadLineAsync(stop) is { } line)
            {
                Interlocked.Add(ref _bytes, line.Length + 1);
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _events);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            Interlocked.Increment(ref _failures);
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken stop)
    {
        if (delay <= TimeSpan.Zero)
        {
            return;
        }
        try
        {
            await Task.Delay(delay, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
