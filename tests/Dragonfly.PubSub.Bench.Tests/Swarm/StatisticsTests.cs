using Dragonfly.PubSub.Bench.Common.Measurement;
using Dragonfly.PubSub.Bench.Swarm.Measurement;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

public sealed class StatisticsTests
{
    [Fact]
    public void Median_IsTheMiddleOrTheMeanOfTheTwoMiddleValues()
    {
        Assert.Equal(2, Statistics.Median([3.0, 1, 2]));
        Assert.Equal(2.5, Statistics.Median([4.0, 1, 3, 2]));
        Assert.Throws<ArgumentException>(() => Statistics.Median([]));
    }

    [Fact]
    public void Percentile_IsNearestRank()
    {
        double[] values = [5, 1, 4, 2, 3];
        Assert.Equal(3, Statistics.Percentile(values, 50));
        Assert.Equal(5, Statistics.Percentile(values, 99));
        Assert.Equal(1, Statistics.Percentile(values, 1));
        Assert.Equal(5, Statistics.Percentile(values, 100));
    }

    [Fact]
    public void Percentile_Of16_P99IsTheLargestAndP50TheEighth()
    {
        var values = Enumerable.Range(1, 16).Select(i => (double)i).Reverse().ToArray();
        Assert.Equal(16, Statistics.Percentile(values, 99));
        Assert.Equal(8, Statistics.Percentile(values, 50));
    }

    [Fact]
    public void Percentile_RejectsEmptyAndOutOfRange()
    {
        Assert.Throws<ArgumentException>(() => Statistics.Percentile(Array.Empty<double>(), 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => Statistics.Percentile([1.0], 0));
    }

    [Fact]
    public void SystemResult_ComputesRatiosFromTheMeasurement()
    {
        var measurement = new SystemMeasurement
        {
            Name = "dragonfly",
            CompletionSeconds = [30, 10, 20, 40],
            ClockStart = "from the announcement",
            OriginEgressBytes = 1500,
            PublisherUploadBytes = 1200,
            CpuSeconds = 8,
            PeakRssBytes = 77,
            Verified = true,
        };
        var result = SystemResult.From(measurement, run: 2, fileBytes: 1000, dMinSeconds: 20);
        Assert.Equal(40, result.AllFinishedSeconds);
        Assert.Equal(20, result.P50Seconds);
        Assert.Equal(40, result.P99Seconds);
        Assert.Equal(2, result.RatioToDMin);
        Assert.Equal(1.5, result.OriginEgressRatio);
        Assert.Equal(1.2, result.PublisherUploadRatio);
        Assert.Equal(8 / (4 * 1000 / 1e9), result.CpuSecondsPerGB, 6);
        Assert.Equal([10.0, 20, 30, 40], result.CompletionSeconds);
        Assert.Equal(2, result.Run);
    }

    [Fact]
    public void MedianRuns_PicksTheMiddleRunPerSystem()
    {
        SystemResult Run(string name, int run, double all) => SystemResult.From(new SystemMeasurement
        {
            Name = name, CompletionSeconds = [all], ClockStart = "", OriginEgressBytes = 1, PublisherUploadBytes = 1, CpuSeconds = 1, PeakRssBytes = 1, Verified = true,
        }, run, 1, 1);
        var medians = SwarmReport.MedianRuns([Run("a", 1, 30), Run("a", 2, 10), Run("a", 3, 20), Run("b", 1, 5), Run("b", 2, 6)]);
        Assert.Equal(3, medians.Single(m => m.Name == "a").Run);
        Assert.Equal(1, medians.Single(m => m.Name == "b").Run);
    }

    [Fact]
    public void CdfPlot_IsWellFormedSvgWithOneLinePerSystem()
    {
        var result = SystemResult.From(new SystemMeasurement
        {
            Name = "direct & co", CompletionSeconds = [1, 2, 3], ClockStart = "", OriginEgressBytes = 1, PublisherUploadBytes = 1, CpuSeconds = 1, PeakRssBytes = 1, Verified = true,
        }, 1, 1, 1.5);
        var svg = CdfPlot.Svg("t", [result, result with { Name = "b" }], 1.5);
        var document = System.Xml.Linq.XDocument.Parse(svg);
        Assert.Equal(2, document.Descendants().Count(e => e.Name.LocalName == "polyline"));
        Assert.Contains("direct &amp; co", svg, StringComparison.Ordinal);
        Assert.Equal(5, CdfPlot.NiceCeiling(3.2));
        Assert.Equal(50, CdfPlot.NiceCeiling(21.5 * 1.05 * 2));
    }
}
