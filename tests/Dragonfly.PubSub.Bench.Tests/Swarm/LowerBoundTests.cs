using Dragonfly.PubSub.Bench.Swarm.Measurement;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

public sealed class LowerBoundTests
{
    private const long File256MiB = 256L << 20;
    private const double Mbit100 = 100e6 / 8;

    [Fact]
    public void PerformanceMdExample_16PeersOf256MiBAt100Mbit_Is21Point5Seconds()
    {
        // performance.md: D_min = 21.5 s; plain HTTP from one origin: 344 s.
        Assert.Equal(21.47, LowerBound.DMinSeconds(File256MiB, 16, Mbit100), 2);
        Assert.Equal(343.6, LowerBound.ClientServerSeconds(File256MiB, 16, Mbit100), 1);
    }

    [Fact]
    public void SwarmCapacity_BindsWhenPeersUploadLittle()
    {
        // u_s = 10, peers upload 1 each, download 100: N·F/(u_s+Σu_i) = 10·100/20 = 50 > F/u_s = 10.
        var dMin = LowerBound.DMinSeconds(100, 10, Enumerable.Repeat(1.0, 10).ToArray(), Enumerable.Repeat(100.0, 10).ToArray());
        Assert.Equal(50, dMin, 6);
    }

    [Fact]
    public void SlowestDownload_BindsWhenOneReceiverIsSlow()
    {
        var dMin = LowerBound.DMinSeconds(100, 100, [100, 100], [100, 2]);
        Assert.Equal(50, dMin, 6);
    }

    [Fact]
    public void SourceUpload_BindsForOnePeer()
    {
        Assert.Equal(F(100, 4), LowerBound.DMinSeconds(100, 1, 4));
        static double F(double size, double rate) => size / rate;
    }

    [Fact]
    public void RejectsMismatchedRates()
    {
        Assert.Throws<ArgumentException>(() => LowerBound.DMinSeconds(100, 1, [1, 2], [1]));
    }
}
