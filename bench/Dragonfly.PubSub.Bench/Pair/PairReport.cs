using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>Everything <c>dfbench pair</c> measured; written as result.json and printed as a table.</summary>
internal sealed record PairReport
{
    public const double RatioTarget = 0.75;
    public const long PeakRssTarget = 100L << 20;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public string Benchmark => "pair";

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>How the benchmark was called, so that a saved result says how to make it again.</summary>
    public string CommandLine { get; init; } = "dfbench " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));

    public required long SizeBytes { get; init; }

    public required string Workspace { get; init; }

    public required bool OnTmpfs { get; init; }

    /// <summary>"default", or the value passed to the pulling agent.</summary>
    public required string PiecesInFlight { get; init; }

    public required string Configuration { get; init; }

    /// <summary>Which Dragonfly executables ran: the build outputs, or those of DFBENCH_BIN_DIR (published).</summary>
    public string Executables { get; init; } = Common.Processes.Executables.Description;

    /// <summary>Median time of <c>dfget --help</c>: the CLI's own start-up, included in every dfget time.</summary>
    public required double? DfgetStartupSeconds { get; init; }

    /// <summary>Load averages when the benchmark started and ended; other work on the machine skews the figures.</summary>
    public required string LoadAverageAtStart { get; init; }

    public required string LoadAverageAtEnd { get; init; }

    public required IReadOnlyList<PairFigures> Runs { get; init; }

    /// <summary>The medians of the runs with each --tls setting, in the order they ran.</summary>
    public required IReadOnlyList<PairFigures> Medians { get; init; }

    /// <summary>The medians of the first (or only) --tls setting.</summary>
    public PairFigures Median => Medians[0];

    /// <summary>What each --tls setting meant for these builds (TLS, or plain text with --insecure or without TLS support).</summary>
    public IReadOnlyDictionary<string, string> Tls =>
        Medians.Select(m => m.Tls).ToDictionary(t => t, t => TlsFlags.Describe(t == "off" ? TlsSetting.Off : TlsSetting.On));

    /// <summary>The targets, judged on the medians of each way of pulling that was measured (plain-text runs of --tls both: key suffix -notls).</summary>
    public IReadOnlyDictionary<string, PairTargets> Targets =>
        Medians.SelectMany(m => new[] { ("dfget", m.Dfget, m.Tls), ("subscribe", m.Subscribe, m.Tls) })
            .Where(m => m.Item2 is not null)
            .ToDictionary(m => Medians.Count > 1 && m.Item3 == "off" ? m.Item1 + "-notls" : m.Item1, m => new PairTargets(RatioTarget, PeakRssTarget,
                m.Item2!.Ratio >= RatioTarget, m.Item2.AgentPeakRssBytes <= PeakRssTarget));

    /// <summary>
    /// With <c>--tls both</c>: per way of pulling, the TLS-on median throughput over the TLS-off one
    /// (target ≥ <see cref="PairTlsRatio.TargetRatio"/>); null when only one setting ran.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, PairTlsRatio>? TlsRatios
    {
        get
        {
            if (Medians.FirstOrDefault(m => m.Tls == "on") is not { } on || Medians.FirstOrDefault(m => m.Tls == "off") is not { } off)
            {
                return null;
            }
            var ratios = new Dictionary<string, PairTlsRatio>();
            if (on.Dfget is { } dfgetOn && off.Dfget is { } dfgetOff)
            {
                ratios["dfget"] = PairTlsRatio.Of(dfgetOn, dfgetOff);
            }
            if (on.Subscribe is { } subscribeOn && off.Subscribe is { } subscribeOff)
            {
                ratios["subscribe"] = PairTlsRatio.Of(subscribeOn, subscribeOff);
            }
            return ratios;
        }
    }

    public PairMachine Machine => PairMachine.Current;

    public async Task WriteJsonAsync(string path, CancellationToken cancel)
    {
        await using var stream = File.Create(path);
        await JsonSerializer.SerializeAsync(stream, this, Json, cancel);
    }

    public static string Header
    {
        get
        {
            const string cells = "     s   GiB/s  ratio  peak RSS (idle RSS)  CPU B/A s  "; // as wide as Cells()
            return $"{"",-7} {"nginx→curl",-14}  | {"dfget: start → exit",-55} | subscribed: announcement → file\n" +
                $"{"run/tls",-7} {"s",6} {"GiB/s",7}  | {cells} | {cells}";
        }
    }

    public static string Row(string label, PairFigures f) => string.Create(CultureInfo.InvariantCulture,
        $"{label,-7} {f.CurlSeconds,6:0.000} {f.CurlGiBPerSecond,7:0.00}  | {Cells(f.Dfget)} | {Cells(f.Subscribe)}");

    [JsonIgnore]
    public IEnumerable<string> TargetLines => Targets.Select(t => string.Create(CultureInfo.InvariantCulture,
        $"target ({t.Key}): ratio ≥ {RatioTarget:0.00} {(t.Value.RatioMet ? "met" : "NOT met")}, agent peak RSS ≤ {ByteSize.Format(PeakRssTarget)} {(t.Value.PeakRssMet ? "met" : "NOT met")}"))
        .Concat((TlsRatios ?? new Dictionary<string, PairTlsRatio>()).Select(t => string.Create(CultureInfo.InvariantCulture,
            $"TLS on/off ({t.Key}): {t.Value.OnGibPerSecond:0.00} / {t.Value.OffGibPerSecond:0.00} GiB/s = {t.Value.Ratio:0.000} (target ≥ {t.Value.Target:0.00} {(t.Value.Met ? "met" : "NOT met")}); CPU B+A {t.Value.OnCpuSeconds:0.00} / {t.Value.OffCpuSeconds:0.00} s")))
        .Concat(Runs.SelectMany(r => new[] { r.Dfget, r.Subscribe }.OfType<AgentTransfer>().Select(t => (r.Tls, t.Encrypted)))
            .Where(r => r.Encrypted != (r.Tls == "on"))
            .Take(1)
            .Select(_ => "WARNING: a run's transport was not what --tls asked for (see runs[].*.encrypted)"));

    private static string Cells(AgentTransfer? t) => t is null
        ? $"{"(not measured)",-55}"
        : string.Create(CultureInfo.InvariantCulture,
            $"{t.Seconds,6:0.000} {t.GiBPerSecond,7:0.00} {t.Ratio,6:0.00} {ByteSize.Format(t.AgentPeakRssBytes),9} ({ByteSize.Format(t.AgentIdleRssBytes),8})  {t.AgentCpuSeconds,4:0.00}/{t.PublisherCpuSeconds,4:0.00}  ");
}
