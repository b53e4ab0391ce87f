namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>
/// One of our systems with TLS on against its plain-text twin (<c>--tls both</c>, named <c>&lt;system&gt;-notls</c>),
/// median run against median run: all-finished times, their ratios to D_min and on/off (issue 9's target: within 5 %).
/// </summary>
internal sealed record TlsComparison(string System, double OnSeconds, double OffSeconds, double OnRatioToDMin, double OffRatioToDMin,
    double Ratio, double Target, bool Met)
{
    public const string PlainTextSuffix = "-notls";
    public const double TargetRatio = 1.05;

    /// <summary>Every system that ran both ways, from the per-system median runs.</summary>
    public static IReadOnlyList<TlsComparison> From(IReadOnlyList<SystemResult> systems) =>
        systems.Where(s => s.Name.EndsWith(PlainTextSuffix, StringComparison.Ordinal))
            .Select(off => (On: systems.FirstOrDefault(s => s.Name == off.Name[..^PlainTextSuffix.Length]), Off: off))
            .Where(pair => pair.On is not null)
            .Select(pair => Of(pair.On!, pair.Off))
            .ToArray();

    private static TlsComparison Of(SystemResult on, SystemResult off)
    {
        var ratio = on.AllFinishedSeconds / off.AllFinishedSeconds;
        return new TlsComparison(on.Name, on.AllFinishedSeconds, off.AllFinishedSeconds, on.RatioToDMin, off.RatioToDMin, ratio, TargetRatio, ratio <= TargetRatio);
    }
}
