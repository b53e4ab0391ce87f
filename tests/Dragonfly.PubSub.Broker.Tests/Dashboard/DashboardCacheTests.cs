using Dragonfly.PubSub.Broker.Dashboard;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Dashboard;

/// <summary>Many readers, few builds: what keeps the dashboard from loading the broker.</summary>
public sealed class DashboardCacheTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 4, 10, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Get_ByManyReadersWithinASecond_BuildsOnce_ThenAgainAfterASecond()
    {
        var cache = new DashboardCache(_time);
        var builds = 0;
        var release = new TaskCompletionSource();
        Func<CancellationToken, Task<CachedAnswer>> build = async _ =>
        {
            Interlocked.Increment(ref builds);
            await release.Task;
            return new CachedAnswer("view", [1, 2, 3]);
        };

        // 100 readers arrive while the first build runs, and while its answer is fresh.
        var readers = Enumerable.Range(0, 100).Select(_ => cache.GetAsync("view:", build, CancellationToken.None)).ToList();
        release.SetResult();
        var answers = await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromMilliseconds(900));
        await cache.GetAsync("view:", build, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, builds);
        Assert.All(answers, a => Assert.Same(answers[0], a));

        _time.Advance(TimeSpan.FromMilliseconds(200));
        await cache.GetAsync("view:", build, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2, builds);
        Assert.Equal(2, cache.Builds);
    }

    [Fact]
    public async Task Get_AfterAFailedBuild_BuildsAgainAtOnce()
    {
        var cache = new DashboardCache(_time);
        var calls = 0;
        Func<CancellationToken, Task<CachedAnswer>> build = _ =>
            Interlocked.Increment(ref calls) == 1 ? Task.FromException<CachedAnswer>(new InvalidOperationException("down")) : Task.FromResult(new CachedAnswer("ok", []));

        await Assert.ThrowsAsync<InvalidOperationException>(() => cache.GetAsync("k", build, CancellationToken.None));
        var answer = await cache.GetAsync("k", build, CancellationToken.None);

        Assert.Equal("ok", answer.View);
    }
}
