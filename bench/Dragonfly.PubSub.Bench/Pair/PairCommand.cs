using System.CommandLine;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Bench.Pair;

/// <summary><c>dfbench pair [--size 1GiB] [--out DIR] [--runs 3] [--pieces-in-flight N] [--via dfget|subscribe|both] [--tls on|off|both]</c></summary>
internal static class PairCommand
{
    public static Command Create(CancellationToken stop)
    {
        var size = new Option<string>("--size")
        {
            Description = "Size of the file to move, e.g. 1GiB, 256MiB",
            HelpName = "SIZE",
            DefaultValueFactory = _ => "1GiB",
        };
        size.Validators.Add(result =>
        {
            var text = result.GetValueOrDefault<string>();
            if (!ByteSize.TryParse(text, out var bytes) || bytes <= 0)
            {
                result.AddError($"--size '{text}' is not a size; write a number with a unit, e.g. 1GiB or 256MiB");
            }
        });
        var output = new Option<string>("--out")
        {
            Description = "Folder for result.json and the processes' logs (created if needed)",
            HelpName = "DIR",
            DefaultValueFactory = _ => "bench-out/pair",
        };
        var runs = new Option<int>("--runs")
        {
            Description = "Number of runs; the report shows each and the median",
            HelpName = "N",
            DefaultValueFactory = _ => 3,
        };
        runs.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--runs must be at least 1");
            }
        });
        var piecesInFlight = new Option<int?>("--pieces-in-flight")
        {
            Description = "Passed to the pulling agent; by default the agent's own default is used",
            HelpName = "N",
        };
        piecesInFlight.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError("--pieces-in-flight must be at least 1");
            }
        });

        var via = new Option<string>("--via")
        {
            Description = "How agent B is asked for the file: dfget (start to exit, CLI start-up included), subscribe (announcement to file), or both",
            HelpName = "dfget|subscribe|both",
            DefaultValueFactory = _ => "both",
        };
        via.AcceptOnlyFromAmong("dfget", "subscribe", "both");

        var tls = new Option<string>("--tls")
        {
            Description = "TLS between our processes: on (the executables' default: the broker's fleet CA, agents enrolled with a join token), "
                + "off (--insecure to every dfbroker, dfagent, dfget and dfpub), or both (the default: every run with each, interleaved, medians for each "
                + "and the TLS-on/off throughput ratio, issue 9's target ≥ 0.9)",
            HelpName = "on|off|both",
            DefaultValueFactory = _ => "both",
        };
        tls.AcceptOnlyFromAmong("on", "off", "both");

        var command = new Command("pair", "One agent pulls one file from one peer over loopback (verification included) vs nginx→curl on the same file")
        {
            size, output, runs, piecesInFlight, via, tls,
        };
        command.SetAction(async (parse, _) =>
        {
            var options = new PairOptions
            {
                Size = ByteSize.Parse(parse.GetValue(size)!),
                OutputFolder = Path.GetFullPath(parse.GetValue(output)!),
                Runs = parse.GetValue(runs),
                PiecesInFlight = parse.GetValue(piecesInFlight),
                Tls = TlsFlags.Parse(parse.GetValue(tls)!),
                Mode = parse.GetValue(via) switch
                {
                    "dfget" => PairMode.Dfget,
                    "subscribe" => PairMode.Subscribe,
                    _ => PairMode.Both,
                },
            };
            var report = await new PairBenchmark(options).RunAsync(stop);
            Directory.CreateDirectory(options.OutputFolder);
            var path = Path.Combine(options.OutputFolder, "result.json");
            await report.WriteJsonAsync(path, stop);
            Console.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }
}
