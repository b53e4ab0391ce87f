using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

public sealed class TokenBucketTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Unlimited_NeverWaits()
    {
        var bucket = new TokenBucket(0, _time);

        for (var i = 0; i < 100; i++)
        {
            Assert.True(bucket.TakeAsync(64 << 20, CancellationToken.None).IsCompletedSuccessfully);
        }
        Assert.True(bucket.IsUnlimited);
    }

    [Fact]
    public void WithinTheBurst_PassesAtOnce_ThenWaitsForTheRate()
    {
        var bucket = new TokenBucket(1000, _time); // burst: a tenth of a second = 100 bytes

        Assert.True(bucket.TakeAsync(100, CancellationToken.None).IsCompletedSuccessfully);
        var next = bucket.TakeAsync(50, CancellationToken.None);

        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(49));
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(next.IsCompletedSuccessfully);
    }

    [Fact]
    public void OneChunkLargerThanTheBurst_PassesThenThoseAfterItPayTheDebt()
    {
        var bucket = new TokenBucket(1000, _time);

        Assert.True(bucket.TakeAsync(100, CancellationToken.None).IsCompletedSuccessfully);
        var big = bucket.TakeAsync(500, CancellationToken.None);
        var after = bucket.TakeAsync(100, CancellationToken.None);

        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(big.IsCompletedSuccessfully);
        Assert.False(after.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(after.IsCompletedSuccessfully);
    }

    [Fact]
    public void IdleTime_RefillsOnlyUpToTheBurst()
    {
        var bucket = new TokenBucket(1000, _time);
        _time.Advance(TimeSpan.FromHours(1));

        Assert.True(bucket.TakeAsync(100, CancellationToken.None).IsCompletedSuccessfully);
        Assert.False(bucket.TakeAsync(1, CancellationToken.None).IsCompleted);
    }

    [Fact]
    public void LongRun_HoldsTheRate()
    {
        var bucket = new TokenBucket(10_000, _time);
        var passed = 0L;
        for (var step = 0; step < 1000; step++)
        {
            // Take 100 bytes whenever allowed; time moves in 1 ms steps.
            var take = bucket.TakeAsync(100, CancellationToken.None);
            while (!take.IsCompleted)
            {
                _time.Advance(TimeSpan.FromMilliseconds(1));
            }
            passed += 100;
        }
        var seconds = (_time.GetUtcNow() - _time.Start).TotalSeconds;

        // 100,000 bytes at 10,000 B/s: about ten seconds, less the initial burst of 1,000 bytes.
        Assert.InRange(seconds, 9.8, 10.1);
        Assert.Equal(100_000, passed);
    }

    [Fact]
    public async Task Cancellation_EndsTheWait()
    {
        var bucket = new TokenBucket(10, _time);
        await bucket.TakeAsync(1, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var waiting = bucket.TakeAsync(100, cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await waiting);
    }
}
