using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Bench.Fleet;

/// <summary>
/// result.json of <c>dfbench fleet</c>: the figures of <c>dfbench swarm</c> that a deployed fleet can give
/// (completion times from the announcement, all-finished, p50/p99, origin egress and publisher upload over the
/// file size), each agent's times from the broker's API, and what the run left behind. No D_min: the fleet's
/// link rates are not known to the benchmark.
/// </summary>
internal sealed record FleetReport
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string CommandLine { get; init; } = "dfbench " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1));

    public required DateTimeOffset Date { get; init; }

    public required string Broker { get; init; }

    public required string BrokerId { get; init; }

    public required bool Tls { get; init; }

    public required string Topic { get; init; }

    public required string Digest { get; init; }

    public required string Name { get; init; }

    public required long SizeBytes { get; init; }

    /// <summary>Agents waited for, and how many finished in time.</summary>
    public required int Agents { get; init; }

    public required int Finished { get; init; }

    /// <summary>Seconds from the announcement (the broker's time stamp) to each agent holding every piece, sorted.</summary>
    public required IReadOnlyList<double> CompletionSeconds { get; init; }

    public required double AllFinishedSeconds { get; init; }

    public required double P50Seconds { get; init; }

    public required double P99Seconds { get; init; }

    /// <summary>Bytes the origin (here the publisher) sent over the file size: 1.0 = each piece left it once.</summary>
    public required double OriginEgressRatio { get; init; }

    public string OriginEgressMeasure { get; init; } = "the publishing agent's dragonfly_agent_upload_bytes_total";

    /// <summary>The broker's count of the same (bytes its members reported from the publisher) over the file size.</summary>
    public required double BrokerOriginRatio { get; init; }

    public required long DeliveredBytes { get; init; }

    public required long SavedBytes { get; init; }

    public required IReadOnlyList<FleetAgentTime> PerAgent { get; init; }

    public required string Cleanup { get; init; }

    public IReadOnlyList<string> Notes { get; init; } = [];

    public string Table()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{Name} ({SizeBytes} bytes, {Digest}) on {Topic} via {Broker} (broker {BrokerId}, TLS {(Tls ? "on" : "off")})");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"agent",-40} {"cluster/zone",-16} {"from announcement s",20} {"download s",11} {"received",12} {"served",12}");
        foreach (var a in PerAgent)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{a.PeerId,-40} {a.Cluster + (a.Zone.Length > 0 ? "/" + a.Zone : ""),-16} {Seconds(a.CompletionSeconds),20} {Seconds(a.DownloadSeconds),11} {a.ReceivedBytes,12} {a.ServedBytes,12}");
        }
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{Finished}/{Agents} agents: all finished {AllFinishedSeconds:0.00} s, p50 {P50Seconds:0.00} s, p99 {P99Seconds:0.00} s after the announcement; origin (publisher) sent {OriginEgressRatio:0.000} x the file (broker's count {BrokerOriginRatio:0.000} x), the swarm saved {SavedBytes} bytes");
        text.Append(CultureInfo.InvariantCulture, $"cleanup: {Cleanup}");
        return text.ToString();
    }

    private static string Seconds(double? value) => value is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) : "-";
}

/// <summary>One agent of the swarm as the broker's API reports it (GET /api/v1/tasks/{digest}/swarm).</summary>
internal sealed record FleetAgentTime(string PeerId, string Cluster, string Zone, double? CompletionSeconds, double? DownloadSeconds, long ReceivedBytes, long ServedBytes);
