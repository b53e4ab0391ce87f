using System.CommandLine;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Swarm.Testbed;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>
/// <c>dfbench swarm</c>: N agents in network namespaces behind tbf-shaped links, against nginx+curl
/// and aria2c+opentracker on the same testbed, as ratios to D_min. Add it to a root command with
/// <c>root.Add(SwarmCommand.Create())</c>; it handles Ctrl-C and SIGTERM itself (everything it
/// started is stopped and every namespace deleted) and reports usage and user errors as
/// <see cref="UserFacingException"/>.
/// </summary>
public static class SwarmCommand
{
    private static readonly string[] KnownBaselines = ["direct", "bittorrent"];

    public static Command Create()
    {
        var agents = new Option<int>("--agents") { Description = "Receiving agents, each in its own network namespace", DefaultValueFactory = _ => 16 };
        var size = new Option<string>("--size") { Description = "File size, e.g. 256MiB", DefaultValueFactory = _ => "256MiB" };
        var rate = new Option<string>("--rate") { Description = "Upload and download cap of every node's link (tc units: 100mbit, 1gbit)", DefaultValueFactory = _ => "100mbit" };
        var mode = new Option<string>("--mode")
        {
            Description = "How the file enters our swarm, comma-separated for several scenarios in one run: publish (dfpub of a file on the publisher node, "
                + "receivers subscribed), url (a URL task on nginx: every receiver runs dfget URL at once, the broker's seed reads the origin), "
                + "url-announce (a URL task announced with dfpub --url to subscribed receivers)",
            DefaultValueFactory = _ => SwarmModes.Publish,
        };
        var baselines = new Option<string>("--baselines") { Description = "Comma-separated: direct (nginx + curl), bittorrent (aria2c + opentracker); 'none' for none", DefaultValueFactory = _ => "direct,bittorrent" };
        var output = new Option<string>("--out") { Description = "Folder for result.json, timelines.json and cdf.svg", DefaultValueFactory = _ => "." };
        var runs = new Option<int>("--runs") { Description = "Runs of every system (result.json's systems hold each system's median run by all-finished time; final figures: --runs 3)", DefaultValueFactory = _ => 1 };
        var keep = new Option<bool>("--keep") { Description = "Keep the workspace (logs, copies) instead of deleting it" };
        var pieceSize = new Option<string?>("--piece-size") { Description = "dfpub --piece-size, also with --url (default: dfpub's; dfget has none: the broker chooses)" };
        var piecesInFlight = new Option<int?>("--pieces-in-flight") { Description = "dfagent --pieces-in-flight (default: the agent's)" };
        var uploadLimit = new Option<string?>("--upload-limit")
        {
            Description = "Cap the upload of every receiver, ours (dfagent --upload-limit) and aria2c's (--max-overall-upload-limit) alike, as an operator sets it "
                + "below the NIC's rate so that the upload queue stays short and the ACKs of the peer's own downloads are not held behind it: "
                + "a share of --rate (90%) or a tc rate (88mbit). Default: none",
            HelpName = "PERCENT%|RATE",
        };
        var seedUploadLimit = new Option<string?>("--seed-upload-limit")
        {
            Description = "Cap the upload of the publishing side: dfpub's dfagent, the broker's in-process seed of URL mode (dfbroker --seed-upload-limit) "
                + "and aria2c's seed. A peer that only uploads needs none, but the broker's seed shares its node's uplink with the scheduler's messages. "
                + "Same forms as --upload-limit. Default: none",
            HelpName = "PERCENT%|RATE",
        };
        var tls = new Option<string>("--tls")
        {
            Description = "TLS between our processes: on (the default, as the executables': the broker's fleet CA, agents enrolled with a join token), "
                + "off (--insecure to every dfbroker, dfagent, dfget and dfpub), or both (each of our systems twice, the plain-text one named <system>-notls, "
                + "and the TLS-on/off ratio of the all-finished times, issue 9's target <= 1.05; takes twice as long, so not the default)",
            HelpName = "on|off|both",
            DefaultValueFactory = _ => "on",
        };
        var command = new Command("swarm", "N agents in network namespaces with tbf-shaped links, against nginx+curl and BitTorrent, as a ratio to D_min (needs root)")
        {
            agents, size, rate, mode, baselines, output, runs, keep, pieceSize, piecesInFlight, uploadLimit, seedUploadLimit, tls,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var linkRate = LinkRate.Parse(parse.GetValue(rate)!);
            var options = new SwarmOptions
            {
                Agents = parse.GetValue(agents) is var n and >= 1 and <= 200 ? n : throw UserFacingException.Usage("--agents must be between 1 and 200"),
                Size = ParseSize(parse.GetValue(size)!),
                Rate = linkRate,
                UploadLimit = parse.GetValue(uploadLimit) is { } u ? LinkRate.ParseShare(u, linkRate, "--upload-limit") : null,
                SeedUploadLimit = parse.GetValue(seedUploadLimit) is { } su ? LinkRate.ParseShare(su, linkRate, "--seed-upload-limit") : null,
                Modes = ParseModes(parse.GetValue(mode)!),
                Baselines = ParseBaselines(parse.GetValue(baselines)!),
                Out = parse.GetValue(output)!,
                Runs = parse.GetValue(runs) is var r and >= 1 and <= 20 ? r : throw UserFacingException.Usage("--runs must be between 1 and 20"),
                Keep = parse.GetValue(keep),
                PieceSize = parse.GetValue(pieceSize) is { } p ? ParseSize(p) : null,
                PiecesInFlight = parse.GetValue(piecesInFlight) is { } f ? (f is >= 1 and <= 256 ? f : throw UserFacingException.Usage("--pieces-in-flight must be between 1 and 256")) : null,
                Tls = TlsFlags.Parse(parse.GetValue(tls)!),
                Say = parse.InvocationConfiguration.Output.WriteLine,
            };
            // Our own Ctrl-C/SIGTERM handling, whatever the host does: cancel, unwind, clean up.
            using var stop = Interruption.Watch(cancel);
            try
            {
                await new SwarmBenchmark(options).RunAsync(stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                throw new UserFacingException("interrupted; every process it started was stopped and its network namespaces deleted");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static long ParseSize(string text) =>
        ByteSize.TryParse(text, out var bytes) && bytes > 0 ? bytes : throw UserFacingException.Usage($"'{text}' is not a size; write e.g. 4MiB or 256MiB");

    internal static IReadOnlyList<string> ParseModes(string text)
    {
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToArray();
        if (names.Length == 0)
        {
            throw UserFacingException.Usage($"--mode needs at least one of {string.Join(", ", SwarmModes.All)}");
        }
        var unknown = names.FirstOrDefault(n => !SwarmModes.All.Contains(n));
        return unknown is null ? names : throw UserFacingException.Usage($"unknown --mode '{unknown}'; choose from {string.Join(", ", SwarmModes.All)} (comma-separated for several)");
    }

    private static IReadOnlyList<string> ParseBaselines(string text)
    {
        if (text.Trim() is "none" or "")
        {
            return [];
        }
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToArray();
        var unknown = names.FirstOrDefault(n => !KnownBaselines.Contains(n));
        return unknown is null ? names : throw UserFacingException.Usage($"unknown baseline '{unknown}'; choose from {string.Join(", ", KnownBaselines)} or none");
    }
}
