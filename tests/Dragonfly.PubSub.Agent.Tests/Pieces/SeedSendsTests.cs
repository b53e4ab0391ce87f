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
    public void ThePause_GrowsWithTheSendTime_ButNotWithRepeats()
    {
        var sends = new SeedSends(_time);

        Assert.True(sends.TryBegin(Key, 0));
        _time.Advance(TimeSpan.FromSeconds(2)); // a slow link: the receiver needs time to pass it on
        sends.End(Key, 0, sent: true);
        _time.Advance(TimeSpan.FromSeconds(3.9));
        Assert.False(sends.TryBegin(Key, 0));
        _time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(sends.TryBegin(Key, 0)); // 2 × 2 s after the first send

        // A quick repeat send: back to the base pause, however often the range went out before
        // (the seed may be the only source left).
        sends.End(Key, 0, sent: true);
        _time.Advance(SeedSends.Grace);
        Assert.True(sends.TryBegin(Key, 0));
        sends.End(Key, 0, sent: true);
        _time.Advance(SeedSends.Grace);
        Assert.True(sends.TryBegin(Key, 0));
    }

    [Fact]
    public void ThePause_IsCapped()
    {
        var sends = new SeedSends(_time);

        Assert.True(sends.TryBegin(Key, 0));
        _time.Advance(TimeSpan.FromMinutes(1));
        sends.End(Key, 0, sent: true);
        _time.Advance(SeedSends.MaxGrace);
        Assert.True(sends.TryBegin(Key, 0));
    }
}
