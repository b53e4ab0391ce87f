using Dragonfly.PubSub.Bench.Swarm.Measurement;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

public sealed class MachineCpuTests
{
    [Fact]
    public void ParseTicks_CountsIdleAndIowaitAsNotBusy()
    {
        // user nice system idle iowait irq softirq steal guest guest_nice
        var (busy, total) = MachineCpu.ParseTicks("cpu  100 5 50 800 20 3 2 0 0 0");
        Assert.Equal(980, total);
        Assert.Equal(160, busy);
    }

    [Fact]
    public void AverageAndPeak_AreOverTheIntervalsBetweenSamples()
    {
        var cpu = new MachineCpu();
        Assert.Equal(0, cpu.PeakBusy);
        cpu.Add((0, 0));
        cpu.Add((50, 100));   // 50 % busy
        cpu.Add((140, 200));  // 90 %
        cpu.Add((140, 200));  // no time passed: no interval
        Assert.Equal(0.7, cpu.AverageBusy, 6);
        Assert.Equal(0.9, cpu.PeakBusy, 6);
    }
}
