using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Client.CommandLine;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Get;
using Dragonfly.PubSub.Origins;

// dfget: download by URL or by content id through the swarm: via the local dfagent, or via a
// one-shot agent in this process when no daemon runs.

var source = new Argument<string>("URL|DIGEST")
{
    Description = "What to download: a URL (http://, https://, ftp://, s3://bucket/key, file:///path), fetched from its origin once per swarm, or a content id sha256:<hex> published before.",
};
var output = new Option<string>("--output", "-O") { Description = "File to write; it appears only once complete and verified (never a partial file).", Required = true };
var expected = new Option<string?>("--digest") { Description = "sha256:<hex> the whole file must hash to; on a mismatch no file is written. With a content id it must equal it." };
var headers = new Option<string[]>("--header", "-H") { Description = "'Name: value' header sent to an HTTP(S) origin, e.g. 'Authorization: Bearer ...'; repeatable. Never logged or stored.", Arity = ArgumentArity.ZeroOrMore };
var filterParams = new Option<string[]>("--filter-param") { Description = "Query parameter to leave out of the task id, so that URLs differing only in it are one task (signed-URL parameters such as X-Amz-Signature and Expires are left out already); repeatable.", Arity = ArgumentArity.ZeroOrMore };
var tag = new Option<string?>("--tag") { Description = "Tag that is part of the task id: the same URL with another tag is another task." };
var limit = new Option<string?>("--limit") { Description = "Download rate cap for this file, e.g. 20MiB (per second)." };
var timeout = new Option<string?>("--timeout") { Description = "Give up after this long, e.g. 90s, 10m, 1h (default: no limit); no file is written." };
var broker = new Option<string?>("--broker") { Description = "Broker HOST[:PORT], or several brokers sharing one state as HOST:PORT,HOST:PORT,... (as dfagent --broker), for the one-shot agent dfget runs when no dfagent answers at --data-dir (default: $DFGET_BROKER or $DRAGONFLY_BROKER)." };
var dataDir = new Option<string>("--data-dir") { Description = "The local agent's data dir ($DRAGONFLY_DATA_DIR or ~/.dragonfly).", DefaultValueFactory = _ => DragonflyClientOptions.DefaultDataDir };
var json = new Option<bool>("--json") { Description = "Print one JSON object describing the finished task instead of the file path." };
var verbose = new Option<bool>("--verbose") { Description = "Show details (stack traces, the one-shot agent's log) on stderr." };
var brokerHttp = new Option<string?>("--broker-http") { Description = "The broker's HTTPS API HOST[:PORT] where the one-shot agent enrols (default: the broker host on 8080)." };
var tls = TlsFlags.Create();

var root = new RootCommand(
    "Download a URL or a content id through the Dragonfly swarm, verify it, and write it atomically. "
    + "A URL's origin is read once for the whole swarm (by a seed peer, or by one agent when no seed runs); "
    + "everyone else gets the pieces from peers. dfget asks the dfagent at --data-dir; when none runs, it runs "
    + "a one-shot agent itself (needs --broker) that serves pieces while it downloads and leaves afterwards. "
    + "The one-shot agent authenticates like dfagent: a join token (--join-token, --token-file or DFGET_JOIN_TOKEN; it enrols each run, "
    + "so use a token with several uses), certificate files (--tls-cert/--tls-key/--tls-ca), or --insecure for a fleet without TLS.")
{
    source, output, expected, headers, filterParams, tag, limit, timeout, broker, dataDir, json, verbose, brokerHttp,
};
tls.AddTo(root);

root.SetAction((parse, ct) => CliRunner.RunAsync("dfget", parse.GetValue(verbose), async () =>
{
    var what = parse.GetValue(source)!.Trim();
    var request = BuildRequest(what, parse);
    var target = request.Output;
    if (Directory.Exists(target))
    {
        throw UserFacingException.Usage($"{target} is a directory; -O takes the path of the file to write");
    }

    // Ctrl-C and SIGTERM cancel the download, so that a one-shot agent still leaves the swarm and
    // removes its temporary data dir on the way out.
    using var interrupted = new CancellationTokenSource();
    using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
    using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct, interrupted.Token);
    if (parse.GetValue(timeout) is { } limitText)
    {
        deadline.CancelAfter(CliDurations.Parse(limitText, "--timeout"));
    }

    TaskInfo task;
    try
    {
        var sources = new SettingSources(parse, configPath: null, "DFGET_");
        var agentTls = new OneShotTls(tls.Read(sources), sources.String(brokerHttp));
        task = await DownloadAsync(request, parse.GetValue(dataDir)!, parse.GetValue(broker), agentTls, parse.GetValue(verbose), deadline.Token);
    }
    catch (OperationCanceledException) when (!ct.IsCancellationRequested && !interrupted.IsCancellationRequested)
    {
        throw new UserFacingException($"timed out after {parse.GetValue(timeout)}; no file was written");
    }
    catch (OperationCanceledException)
    {
        throw new UserFacingException("interrupted; no file was written");
    }
    Console.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(task, ClientJsonContext.Default.TaskInfo) : target);
    return ExitCodes.Success;

    void Interrupt(PosixSignalContext signal)
    {
        signal.Cancel = true;
        interrupted.Cancel();
    }
}));

return await CliRunner.InvokeAsync("dfget", root, args);

DownloadRequest BuildRequest(string what, ParseResult parse)
{
    var target = Path.GetFullPath(parse.GetValue(output)!);
    var wanted = parse.GetValue(expected);
    if (wanted is not null && !ContentDigest.TryParse(wanted, out _))
    {
        throw UserFacingException.Usage($"--digest '{wanted}' is not a content id; give sha256: followed by 64 lowercase hex digits");
    }
    var limitBytes = parse.GetValue(limit) is { } rate
        ? ByteSize.ParseRate(rate, "--limit") is > 0 and var bytes ? bytes : throw UserFacingException.Usage(ByteSize.NotARate("--limit", rate))
        : (long?)null;
    var headerLines = parse.GetValue(headers) ?? [];
    var filters = parse.GetValue(filterParams) ?? [];
    var tagText = parse.GetValue(tag);

    if (what.StartsWith(ContentDigest.Prefix, StringComparison.OrdinalIgnoreCase))
    {
        if (!ContentDigest.TryParse(what, out var digest))
        {
            throw UserFacingException.Usage($"'{what}' is not a content id; give sha256: followed by 64 lowercase hex digits, or a URL");
        }
        if (wanted is not null && wanted != digest.Value.ToString())
        {
            throw UserFacingException.Usage($"--digest {wanted} differs from the requested content id {digest}");
        }
        if (headerLines.Length > 0 || filters.Length > 0 || tagText is not null)
        {
            throw UserFacingException.Usage("--header, --filter-param and --tag apply to URLs only, not to a content id");
        }
        return new DownloadRequest { Digest = digest.Value.ToString(), Output = target, Limit = limitBytes };
    }

    Uri url;
    try
    {
        url = OriginUrl.Parse(what);
    }
    catch (FormatException e)
    {
        throw UserFacingException.Usage($"{e.Message}, or a content id sha256:<hex>");
    }
    foreach (var line in headerLines)
    {
        try
        {
            OriginRequestOptions.ParseHeader(line);
        }
        catch (FormatException e)
        {
            throw UserFacingException.Usage(e.Message);
        }
    }
    return new DownloadRequest
    {
        Url = url.OriginalString,
        Output = target,
        Digest = wanted,
        Headers = headerLines,
        FilterParams = filters,
        Tag = tagText,
        Limit = limitBytes,
    };
}

static async Task<TaskInfo> DownloadAsync(DownloadRequest request, string dataDir, string? brokerFlag, OneShotTls tls, bool verbose, CancellationToken ct)
{
    using (var daemon = new DragonflyClient(new DragonflyClientOptions { DataDir = dataDir }))
    {
        try
        {
            return await DownloadWithAsync(daemon, request, ct);
        }
        catch (DragonflyClientException e) when (e.Kind == ApiError.Unreachable)
        {
            // No daemon here: run a one-shot agent below.
        }
    }
    var brokerAddress = OneShotAgent.BrokerFrom(brokerFlag)
        ?? throw new UserFacingException($"no dfagent runs at {dataDir} and no broker is given; start dfagent (dfagent --broker HOST --data-dir {dataDir}) or pass --broker HOST[:PORT] (or set DFGET_BROKER)");
    var agent = await OneShotAgent.StartAsync(brokerAddress, tls, verbose, ct);
    await using (agent)
    {
        using var client = new DragonflyClient(new DragonflyClientOptions { DataDir = agent.DataDir });
        return await DownloadWithAsync(client, request, ct);
    }
}

static async Task<TaskInfo> DownloadWithAsync(DragonflyClient client, DownloadRequest request, CancellationToken ct)
{
    using var bar = new ConsoleProgressBar("dfget");
    var task = await client.DownloadAsync(request,
        new Progress<TaskInfo>(t => bar.Report(ProgressBytes(t), t.Size, $"{t.CompletedPieces}/{t.TotalPieces} pieces")), ct);
    bar.Report(task.Size, task.Size, force: true);
    return task;
}

static long ProgressBytes(TaskInfo t) =>
    t.TotalPieces == 0 ? 0 : (long)(t.Size * ((double)t.CompletedPieces / t.TotalPieces));
