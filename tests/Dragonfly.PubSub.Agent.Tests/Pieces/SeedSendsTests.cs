using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

public sealed class SeedSendsTests
{
    private static readonly DigestKey Key = DigestKey.From(ContentDigest.Parse("sha256:0000000000000000000000000000000000000000000000000000000000000002"));
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void ARange_IsSentToOnePeerAtATime_AndNotAgainWithinTheGrace()
    {
        var sends = new SeedSends(_time);

        Assert.True(sends.TryBegin(Key, 0));
        Assert.False(sends.TryBegin(Key, 0));
        Assert.True(sends.TryBegin(Key, 65536));
        sends.End(Key, 0, sent: true);
        Assert.False(sends.TryBegin(Key, 0));

        _time.Advance(SeedSends.Grace);
        Assert.True(sends.TryBegin(Key, 0));
    }

    [Fact]
    public void ARangeThatWasNotSentAfterAll_IsFreeAtOnce()
    {
        var sends = new SeedSends(_time);

        Assert.True(sends.TryBegin(Key, 0));
        sends.End(Key, 0, sent: false);

        Assert.True(sends.TryBegin(Key, 0));
    }

    [Fact]
    public void ThePause_GrowsWithTheSendTime_AndDoublesWithEveryRepeat()
    {
        var sends = new SeedSends(_time);

        Assert.True(sends.TryBegin(Key, 0));
        _time.Advance(TimeSpan.FromSeconds(3)); // a slow link: the receiver needs time to pass it on
        sends.End(Key, 0, sent: true);
        _time.Advance(TimeSpan.FromSeconds(5.9));
        Assert.False(sends.TryBegin(Key, 0));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(sends.TryBegin(Key, 0)); // 2 × 3 s after the first send

        sends.End(Key, 0, sent: true); // instant second send: max(1 s, 0) doubled once
        _time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.False(sends.TryBegin(Key, 0));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(sends.TryBegin(Key, 0));
    }
}
