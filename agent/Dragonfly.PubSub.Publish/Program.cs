using System.CommandLine;
using System.Text.Json;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Client.CommandLine;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

// dfpub: publish a local file to a topic through the local dfagent, which becomes its first seed.

var file = new Argument<string>("FILE") { Description = "The file to publish." };
var topic = new Option<string>("--topic", "-t") { Description = "Topic to announce on, e.g. releases/app (no wildcards).", Required = true };
var name = new Option<string?>("--name") { Description = "Name subscribers store it under (default: the file name)." };
var labels = new Option<string[]>("--label") { Description = "A K=V label carried in the announcement; repeatable.", Arity = ArgumentArity.ZeroOrMore };
var pieceSize = new Option<string?>("--piece-size") { Description = "Bytes per piece, e.g. 4MiB (default: 4 MiB, larger for very large files)." };
var dataDir = new Option<string>("--data-dir") { Description = "The local agent's data dir ($DRAGONFLY_DATA_DIR or ~/.dragonfly).", DefaultValueFactory = _ => DragonflyClientOptions.DefaultDataDir };
var json = new Option<bool>("--json") { Description = "Print one JSON object (digest, name, size, topic, pieceSize, pieceCount) instead of the digest." };
var verbose = new Option<bool>("--verbose") { Description = "Show details (stack traces) on errors." };

var root = new RootCommand("Publish a file to a topic: the local dfagent imports it, seeds it, and the broker announces it to every subscribed agent. Prints the content id (sha256:<hex>).")
{
    file, topic, name, labels, pieceSize, dataDir, json, verbose,
};

root.SetAction((parse, ct) => CliRunner.RunAsync("dfpub", parse.GetValue(verbose), async () =>
{
    var path = Path.GetFullPath(parse.GetValue(file)!);
    if (Directory.Exists(path) || !File.Exists(path))
    {
        throw UserFacingException.Usage($"{path} does not exist or is not a file; give the path of a file to publish");
    }
    var request = new PublishRequest
    {
        Path = path,
        Topic = parse.GetValue(topic)!,
        Name = parse.GetValue(name) ?? Path.GetFileName(path),
        Labels = ParseLabels(parse.GetValue(labels) ?? []),
        PieceSize = parse.GetValue(pieceSize) is { } size ? ParsePieceSize(size) : null,
    };
    if (TopicName.ValidateTopic(request.Topic) is { } topicError)
    {
        throw UserFacingException.Usage(topicError);
    }
    if (ArtifactName.Validate(request.Name) is { } nameError)
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
