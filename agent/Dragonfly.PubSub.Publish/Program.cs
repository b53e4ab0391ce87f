using System.CommandLine;
using System.Text.Json;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Client.CommandLine;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Publish.Preheat;

// dfpub: publish a local file (the local dfagent imports and seeds it) or a URL (the broker
// announces a URL task that seed peers fetch from its origin once) to a topic; `dfpub preheat`
// has the broker announce a container image's blobs.

var file = new Argument<string?>("FILE") { Description = "The file to publish (or use --url).", Arity = ArgumentArity.ZeroOrOne };
var url = new Option<string?>("--url") { Description = "Publish the object at this URL (http://, https://, ftp://, s3://bucket/key, file:///path) instead of a file: the broker announces it and a seed peer fetches it from the origin once for all subscribers." };
var topic = new Option<string>("--topic", "-t") { Description = "Topic to announce on, e.g. releases/app (no wildcards).", Required = true };
var name = new Option<string?>("--name") { Description = "Name subscribers store it under (default: the file name, or the last segment of the URL path)." };
var labels = new Option<string[]>("--label") { Description = "A K=V label carried in the announcement; repeatable.", Arity = ArgumentArity.ZeroOrMore };
var pieceSize = new Option<string?>("--piece-size") { Description = "Bytes per piece, e.g. 4MiB (default: the smallest power of two from 256 KiB to 4 MiB that cuts the file into at most 1,024 pieces, larger beyond 4,096 pieces)." };
var headers = new Option<string[]>("--header", "-H") { Description = "With --url: 'Name: value' header the seed sends to an HTTP(S) origin; repeatable. Kept in the broker's memory only, never logged or announced.", Arity = ArgumentArity.ZeroOrMore };
var tag = new Option<string?>("--tag") { Description = "With --url: a tag that is part of the task id." };
var filterParams = new Option<string[]>("--filter-param") { Description = "With --url: query parameter left out of the task id (signed-URL parameters are left out already); repeatable.", Arity = ArgumentArity.ZeroOrMore };
var expected = new Option<string?>("--digest") { Description = "With --url: sha256:<hex> the object must hash to; the task fails for everyone otherwise." };
var dataDir = new Option<string>("--data-dir") { Description = "The local agent's data dir ($DRAGONFLY_DATA_DIR or ~/.dragonfly).", DefaultValueFactory = _ => DragonflyClientOptions.DefaultDataDir };
var json = new Option<bool>("--json") { Description = "Print one JSON object (digest, name, size, topic, pieceSize, pieceCount, and urlTask for a URL) instead of the id." };
var verbose = new Option<bool>("--verbose") { Description = "Show details (stack traces) on errors." };

var root = new RootCommand(
    "Publish a file or a URL to a topic; every agent subscribed to it receives the artifact through the swarm. "
    + "A file is imported and seeded by the local dfagent; a URL (--url) is announced as a URL task whose origin "
    + "a seed peer reads once. Prints the id subscribers receive it under (sha256:<hex>). "
    + "'dfpub preheat IMAGE_REF --topic T --platform os/arch|all' preheats a container image into the subscribers' caches "
    + "(see 'dfpub preheat --help'); to publish a file named preheat, write ./preheat.")
{
    file, url, topic, name, labels, pieceSize, headers, tag, filterParams, expected, dataDir, json, verbose,
};
root.Subcommands.Add(PreheatCommand.Create());

root.SetAction((parse, ct) => CliRunner.RunAsync("dfpub", parse.GetValue(verbose), async () =>
{
    var request = BuildRequest(parse);
    if (TopicName.ValidateTopic(request.Topic) is { } topicError)
    {
        throw UserFacingException.Usage(topicError);
    }
    if (request.Name is not null && ArtifactName.Validate(request.Name) is { } nameError)
    {
        throw UserFacingException.Usage(nameError);
    }

    using var client = new DragonflyClient(new DragonflyClientOptions { DataDir = parse.GetValue(dataDir)! });
    var result = await client.PublishAsync(request, ct);
    Console.WriteLine(parse.GetValue(json)
        ? JsonSerializer.Serialize(result, ClientJsonContext.Default.PublishResult)
        : result.Digest);
    return ExitCodes.Success;
}));

return await CliRunner.InvokeAsync("dfpub", root, args);

PublishRequest BuildRequest(ParseResult parse)
{
    var path = parse.GetValue(file);
    var urlText = parse.GetValue(url);
    var headerLines = parse.GetValue(headers) ?? [];
    var filters = parse.GetValue(filterParams) ?? [];
    var tagText = parse.GetValue(tag);
    var wanted = parse.GetValue(expected);
    var common = new PublishRequest
    {
        Topic = parse.GetValue(topic)!,
        Name = parse.GetValue(name),
        Labels = ParseLabels(parse.GetValue(labels) ?? []),
        PieceSize = parse.GetValue(pieceSize) is { } size ? ParsePieceSize(size) : null,
    };
    if (urlText is null)
    {
        if (path is null)
        {
            throw UserFacingException.Usage("give a FILE to publish or --url URL; see 'dfpub --help'");
        }
        if (headerLines.Length > 0 || filters.Length > 0 || tagText is not null || wanted is not null)
        {
            throw UserFacingException.Usage("--header, --filter-param, --tag and --digest apply to --url only");
        }
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full) || !File.Exists(full))
        {
            throw UserFacingException.Usage($"{full} does not exist or is not a file; give the path of a file to publish");
        }
        return common with { Path = full, Name = common.Name ?? Path.GetFileName(full) };
    }
    if (path is not null)
    {
        throw UserFacingException.Usage("give either a FILE or --url, not both");
    }
    if (!Uri.TryCreate(urlText.Trim(), UriKind.Absolute, out _))
    {
        throw UserFacingException.Usage("--url is not an absolute URL; expected http://, https://, ftp://, s3://bucket/key or file:///path");
    }
    foreach (var line in headerLines)
    {
        var colon = line.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || line[..colon].Trim().Length == 0 || line[..colon].Trim().Any(c => c <= ' ' || c >= 127))
        {
            // The value may be a secret: never echo it.
            throw UserFacingException.Usage($"header '{(colon > 0 ? line[..colon] : "...")}' is malformed; expected 'Name: value'");
        }
    }
    if (wanted is not null && !ContentDigest.TryParse(wanted, out _))
    {
        throw UserFacingException.Usage($"--digest '{wanted}' is not a content id; give sha256: followed by 64 lowercase hex digits");
    }
    return common with { Url = urlText.Trim(), Headers = headerLines, FilterParams = filters, Tag = tagText, Digest = wanted };
}

static Dictionary<string, string> ParseLabels(string[] pairs)
{
    var result = new Dictionary<string, string>(StringComparer.Ordinal);
    foreach (var pair in pairs)
    {
        var eq = pair.IndexOf('=');
        if (eq <= 0)
        {
            throw UserFacingException.Usage($"label '{pair}' is not K=V; write e.g. --label version=1.2.3");
        }
        result[pair[..eq]] = pair[(eq + 1)..];
    }
    return result;
}

static int ParsePieceSize(string text) =>
    !ByteSize.TryParse(text, out var bytes)
        ? throw UserFacingException.Usage($"--piece-size '{text}' is not a size; write e.g. 4MiB")
        : bytes is < PieceLayout.MinPieceSize or > PieceLayout.MaxPieceSize
            ? throw UserFacingException.Usage($"--piece-size must be between {ByteSize.Format(PieceLayout.MinPieceSize)} and {ByteSize.Format(PieceLayout.MaxPieceSize)}")
            : (int)bytes;
