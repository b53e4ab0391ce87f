using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Client.CommandLine;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Agent.Cache;

/// <summary>
/// <c>dfagent gc [--dry-run] [--cache-size SIZE] [--data-dir DIR] [--json]</c>: runs the running
/// agent's cache collection now and prints what went (or, dry, what would go) and what is kept.
/// It asks the daemon rather than reading the data dir itself: only the running agent knows which
/// tasks are in progress and which downloads wait.
/// </summary>
internal static class GcCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "The agent's data dir.", DefaultValueFactory = _ => DragonflyClientOptions.DefaultDataDir };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only list what would be evicted; remove nothing." };
        var size = new Option<string?>("--cache-size") { Description = "Trim to this size this once (e.g. 0 or 5GiB) instead of the agent's --cache-size." };
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON object." };
        var command = new Command("gc", "Evict least recently used cached content that nothing needs, down to the agent's --cache-size and --min-free (or --cache-size given here). Content of tasks in progress, content a download request waits on and content shared with an output by a hard link are kept and listed with the reason.")
        {
            dataDir, dryRun, size, json,
        };
        command.SetAction((parse, ct) => CliRunner.RunAsync("dfagent", false, async () =>
        {
            var limit = parse.GetValue(size) is { } text
                ? ByteSize.TryParse(text, out var bytes) ? bytes : throw UserFacingException.Usage($"--cache-size '{text}' is not a size; write e.g. 5GiB (0 evicts everything not in use)")
                : (long?)null;
            using var client = new DragonflyClient(new DragonflyClientOptions { DataDir = parse.GetValue(dataDir)! });
            var report = await client.CollectGarbageAsync(parse.GetValue(dryRun), limit, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(report, ClientJsonContext.Default.CacheReport));
            }
            else
            {
                Print(report);
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>Parses <c>--cache-size</c>: a size such as 20GiB; null or 0 = no limit.</summary>
    /// <exception cref="UserFacingException">Usage (exit 2): not a size.</exception>
    public static long ParseCacheSize(string? text) =>
        text is null ? 0
        : ByteSize.TryParse(text, out var bytes) ? bytes
        : throw UserFacingException.Usage($"--cache-size '{text}' is not a size; write e.g. 20GiB (0 = no limit)");

    private static void Print(CacheReport report)
    {
        var limit = report.CacheLimit is { } size ? ByteSize.Format(size) : "none";
        var floor = report.MinFree > 0 ? ByteSize.Format(report.MinFree) : "none";
        Console.WriteLine($"cache {ByteSize.Format(report.CacheBytes)} (limit {limit}); {ByteSize.Format(report.FreeBytes)} free (floor {floor}); {ByteSize.Format(report.BytesToFree)} to free");
        var verb = report.DryRun ? "would evict" : "evicted";
        foreach (var item in report.Evicted)
        {
            Console.WriteLine($"{verb} {Line(item)}");
        }
        if (report.Evicted.Count == 0)
        {
            Console.WriteLine(report.DryRun ? "nothing would be evicted" : "nothing evicted");
        }
        foreach (var item in report.Pinned)
        {
            Console.WriteLine($"kept {Line(item)}: {item.Reason}");
        }
    }

    private static string Line(CacheEviction item) => string.Create(CultureInfo.InvariantCulture,
        $"{item.Digest} {item.Kind} {ByteSize.Format(item.Bytes)} last used {item.LastUsed:yyyy-MM-ddTHH:mm:ssZ} {(item.Name is null ? "(no task)" : $"{item.Topic}/{item.Name}")}");
}
