using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Client.CommandLine;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

// dfget: download a task by content id through the local dfagent and the swarm behind it.

var source = new Argument<string>("DIGEST") { Description = "What to download: a content id sha256:<hex>." };
var output = new Option<string>("--output", "-O") { Description = "File to write; it appears only once complete and verified.", Required = true };
var expected = new Option<string?>("--digest") { Description = "Expected content id; the download fails unless it matches." };
var timeout = new Option<string?>("--timeout") { Description = "Give up after this long, e.g. 90s, 10m, 1h (default: no limit)." };
var dataDir = new Option<string>("--data-dir") { Description = "The local agent's data dir ($DRAGONFLY_DATA_DIR or ~/.dragonfly).", DefaultValueFactory = _ => DragonflyClientOptions.DefaultDataDir };
var json = new Option<bool>("--json") { Description = "Print one JSON object describing the finished task." };
var verbose = new Option<bool>("--verbose") { Description = "Show details (stack traces) on errors." };

var root = new RootCommand("Download an artifact by content id through the swarm, verify it, and write it atomically.")
{
    source, output, expected, timeout, dataDir, json, verbose,
};

root.SetAction((parse, ct) => CliRunner.RunAsync("dfget", parse.GetValue(verbose), async () =>
{
    var what = parse.GetValue(source)!;
    if (!ContentDigest.TryParse(what, out var digest))
    {
        throw UserFacingException.Usage($"'{what}' is not a content id; give sha256: followed by 64 lowercase hex digits (URLs come with back-to-source support)");
    }
    if (parse.GetValue(expected) is { } wanted && wanted != digest.Value.ToString())
    {
        throw UserFacingException.Usage($"--digest {wanted} differs from the requested content id {digest}");
    }
    var target = Path.GetFullPath(parse.GetValue(output)!);
    if (Directory.Exists(target))
    {
        throw UserFacingException.Usage($"{target} is a directory; -O takes the path of the file to write");
    }

    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
    if (parse.GetValue(timeout) is { } limitText)
    {
        deadline.CancelAfter(ParseDuration(limitText));
    }

    using var client = new DragonflyClient(new DragonflyClientOptions { DataDir = parse.GetValue(dataDir)! });
    using var bar = new ConsoleProgressBar("dfget");
    TaskInfo task;
    try
    {
        task = await client.DownloadAsync(digest.Value.ToString(), target,
            new Progress<TaskInfo>(t => bar.Report(ProgressBytes(t), t.Size, $"{t.CompletedPieces}/{t.TotalPieces} pieces")), deadline.Token);
    }
    catch (OperationCanceledException) when (!ct.IsCancellationRequested)
    {
        throw new UserFacingException($"timed out after {parse.GetValue(timeout)}; no file was written (the agent keeps the pieces it has for a retry)");
    }
    bar.Report(task.Size, task.Size, force: true);
    Console.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(task, ClientJsonContext.Default.TaskInfo) : target);
    return ExitCodes.Success;
}));

return await CliRunner.InvokeAsync("dfget", root, args);

static long ProgressBytes(TaskInfo t) =>
    t.TotalPieces == 0 ? 0 : (long)(t.Size * ((double)t.CompletedPieces / t.TotalPieces));

static TimeSpan ParseDuration(string text)
{
    var units = new (string Suffix, double Seconds)[] { ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600) };
    foreach (var (suffix, seconds) in units)
    {
        if (text.EndsWith(suffix, StringComparison.Ordinal)
            && double.TryParse(text[..^suffix.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            && value > 0)
        {
            return TimeSpan.FromSeconds(value * seconds);
        }
    }
    return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero
        ? span
        : throw UserFacingException.Usage($"--timeout '{text}' is not a duration; write e.g. 90s, 10m or 1h");
}
