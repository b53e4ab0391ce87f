using Dragonfly.PubSub.Broker.Scheduling;

namespace Dragonfly.PubSub.Broker.Tests.Scheduling;

public sealed class CandidateSamplerTests
{
    [Fact]
    public void Sample_WhenPoolIsNoLargerThanTheSample_TakesEveryAcceptedItemInOrderWithoutADraw()
    {
        var random = new CountingRandom(1);
        var sampler = new CandidateSampler(random, sampleSize: 5);
        var into = new List<int>();

        var drew = sampler.Sample([10, 11, 12, 13, 14], i => i != 12, into);

        Assert.False(drew);
        Assert.Equal([10, 11, 13, 14], into);
        Assert.Equal(0, random.Draws);
    }

    [Fact]
    public void Sample_FromALargePool_TakesSampleSizeDistinctAcceptedItems()
    {
        var pool = Enumerable.Range(0, 1000).ToList();
        var sampler = new CandidateSampler(new Random(7), sampleSize: 16);
        var into = new List<int>();

        var drew = sampler.Sample(pool, i => i % 2 == 0, into);

        Assert.True(drew);
        Assert.Equal(16, into.Count);
        Assert.Equal(16, into.Distinct().Count());
        Assert.All(into, i => Assert.Equal(0, i % 2));
    }

    [Fact]
    public void Sample_WithTheSameSeed_IsTheSame()
    {
        var pool = Enumerable.Range(0, 500).ToList();
        List<int> first = [], second = [];

        new CandidateSampler(new Random(42), 24).Sample(pool, _ => true, first);
        new CandidateSampler(new Random(42), 24).Sample(pool, _ => true, second);

        Assert.Equal(first, second);
    }

    [Fact]
    public void Sample_WhenAlmostNothingIsAccepted_StopsAfterFourDrawsPerSlot()
    {
        var random = new CountingRandom(3);
        var sampler = new CandidateSampler(random, sampleSize: 10);
        var into = new List<int>();

        sampler.Sample(Enumerable.Range(0, 10_000).ToList(), i => i == 9_999, into);

        Assert.Equal(10 * CandidateSampler.MaxDrawsPerSlot, random.Draws);
        Assert.True(into.Count <= 1);
    }

    [Fact]
    public void Sample_OverManyParentSets_ReachesEveryMember()
    {
        // Uniform draws: no member of a big swarm is left out of every sample (nor always in it).
        var pool = Enumerable.Range(0, 100).ToList();
        var sampler = new CandidateSampler(new Random(5), sampleSize: 10);
        var seen = new int[pool.Count];
        for (var round = 0; round < 1000; round++)
        {
            var into = new List<int>();
            sampler.Sample(pool, _ => true, into);
            foreach (var i in into)
            {
                seen[i]++;
            }
        }

        Assert.All(seen, count => Assert.InRange(count, 50, 150)); // expected 100 each
    }

    [Fact]
    public void SizeFor_IsFourCandidatesPerParentAndAtLeastSixteen()
    {
        Assert.Equal(24, CandidateSampler.SizeFor(6));
        Assert.Equal(16, CandidateSampler.SizeFor(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CandidateSampler(new Random(1), 0));
    }

    private sealed class CountingRandom(int seed) : Random(seed)
    {
        public int Draws { get; private set; }

        public override int Next(int maxValue)
        {
            Draws++;
            return base.Next(maxValue);
        }
    }
}
