namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>
/// One way of pulling with TLS on against the same with TLS off (<c>--tls both</c>): the median
/// throughputs and their ratio (issue 9's target: on ≥ 0.9 × off), and the CPU both agents spent.
/// </summary>
internal sealed record PairTlsRatio(double Ratio, double Target, bool Met, double OnGibPerSecond, double OffGibPerSecond,
    double OnCpuSeconds, double OffCpuSeconds)
{
    public const double TargetRatio = 0.9;

    public static PairTlsRatio Of(AgentTransfer on, AgentTransfer off)
    {
        var ratio = on.GiBPerSecond / off.GiBPerSecond;
        return new PairTlsRatio(ratio, TargetRatio, ratio >= TargetRatio, on.GiBPerSecond, off.GiBPerSecond,
            on.AgentCpuSeconds + on.PublisherCpuSeconds, off.AgentCpuSeconds + off.PublisherCpuSeconds);
    }
}
