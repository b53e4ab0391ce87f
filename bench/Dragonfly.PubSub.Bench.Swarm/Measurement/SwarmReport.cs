using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>result.json: the scenario, the machine, D_min and each system's figures.</summary>
internal sealed record SwarmReport
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public required SwarmScenario Scenario { get; init; }

    /// <summary>How the benchmark was called, so that a saved result says how to make it again.</summary>
    public string CommandLine { get; init; } = "dfbench " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));

    public required DateTimeOffset Date { get; init; }

    public required MachineInfo Machine { get; init; }

    public required double DMinSeconds { get; init; }

    public required double ClientServerSeconds { get; init; }

    /// <summary>Per system, its median run by all-finished time (the lower middle one of an even count).</summary>
    public required IReadOnlyList<SystemResult> Systems { get; init; }

    public required IReadOnlyList<SystemResult> Runs { get; init; }

    /// <summary>With <c>--tls both</c>: each of our systems with TLS on against its plain-text twin (target: on ≤ 1.05 × off).</summary>
    public IReadOnlyList<TlsComparison> TlsComparisons => TlsComparison.From(Systems);

    public IReadOnlyList<string> Notes { get; init; } = [];

    public static IReadOnlyList<SystemResult> MedianRuns(IEnumerable<SystemResult> runs) =>
        runs.GroupBy(r => r.Name)
            .Select(g =>
            {
                var sorted = g.OrderBy(r => r.AllFinishedSeconds).ToArray();
                return sorted[(sorted.Length - 1) / 2];
            })
            .ToArray();

    public string Table()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{"system",-28} {"run",3} {"all done s",10} {"x D_min",8} {"from cmd s",10} {"p50 s",8} {"p99 s",8} {"1st req p50/p99 ms",18} {"origin/F",9} {"pub/F",7} {"CPU s/GB",9} {"peak RSS",9} {"verified",8}");
        foreach (var r in Runs)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{r.Name,-28} {r.Run,3} {r.AllFinishedSeconds,10:0.00} {r.RatioToDMin,8:0.000} {r.AllFinishedFromCommandSeconds,10:0.00} {r.P50Seconds,8:0.00} {r.P99Seconds,8:0.00} {FirstRequest(r),18} {r.OriginEgressRatio,9:0.000} {r.PublisherUploadRatio,7:0.000} {r.CpuSecondsPerGB,9:0.00} {r.PeakRssBytes / 1048576.0,6:0.0} MiB {(r.Verified ? "yes" : "NO"),8}");
        }
        foreach (var c in TlsComparisons)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"TLS on/off ({c.System}, median runs): {c.OnSeconds:0.00} / {c.OffSeconds:0.00} s ({c.OnRatioToDMin:0.000} / {c.OffRatioToDMin:0.000} x D_min) = {c.Ratio:0.000} (target <= {c.Target:0.00} {(c.Met ? "met" : "NOT met")})");
        }
        foreach (var r in Runs.Where(r => r.Encrypted is { } encrypted && encrypted != (r.Tls?.StartsWith("on", StringComparison.Ordinal) == true)))
        {
            text.AppendLine($"WARNING: {r.Name} run {r.Run}: the transport was not what --tls asked for (its notes say what was seen)");
        }
        text.Append(CultureInfo.InvariantCulture, $"D_min {DMinSeconds:0.00} s; one origin serving everyone {ClientServerSeconds:0.00} s; each system's clock: clockStart in result.json");
        return text.ToString();
    }

    private static string FirstRequest(SystemResult r) => r.AnnouncementToFirstPieceRequest is { } f
        ? string.Create(CultureInfo.InvariantCulture, $"{f.P50Milliseconds:0}/{f.P99Milliseconds:0}")
        : "-";
}

internal sealed record SwarmScenario(int Agents, long SizeBytes, string Rate, long RateBitsPerSecond, string Mode, int Runs,
    long? PieceSize, int? PiecesInFlight, string Tls, string Testbed, long? UploadLimitBitsPerSecond, long? SeedUploadLimitBitsPerSecond);

internal sealed record MachineInfo(string Host, int Cpus, string Os, string Kernel, long MemoryBytes, string Runtime, string Configuration,
    bool FilesOnTmpfs, string LoadAverageAtStart, string LoadAverageAtEnd)
{
    /// <summary>Which Dragonfly executables ran: the build outputs, or those of DFBENCH_BIN_DIR (published).</summary>
    public string Executables { get; init; } = Common.Processes.Executables.Description;

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    public static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return Environment.OSVersion.VersionString;
        }
    }
}
