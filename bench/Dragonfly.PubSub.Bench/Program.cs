// dfbench: benchmarks of Dragonfly.PubSub against baselines measured in the same run
// (design/performance.md). They report figures and targets; they do not fail on speed.
//
//   dotnet run -c Release --project bench/Dragonfly.PubSub.Bench -- pair [--size 1GiB] [--out DIR] [--runs 3] [--tls on|off|both]
//   sudo dfbench swarm --agents 16 --size 256MiB --rate 100mbit [--baselines direct,bittorrent] [--out DIR]
//   sudo dfbench swarm --agents 8 --size 64MiB --rate 100mbit --mode url,url-announce --baselines direct   (URL tasks)
//   dfbench broker --agents 5000 [--out DIR]
//   dfbench ciphers [--size 1GiB] [--runs 2]   (what each --tls-ciphers choice costs, against plain TCP)
//   dfbench fleet --broker https://HOST:8080 --ca ca.crt --topic T --size 256MiB   (a deployed fleet, per-agent times from the broker's API)

using System.CommandLine;
using Dragonfly.PubSub.Bench.BrokerLoad;
using Dragonfly.PubSub.Bench.Ciphers;
using Dragonfly.PubSub.Bench.Fleet;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Pair;
using Dragonfly.PubSub.Bench.Swarm;
using Dragonfly.PubSub.Contracts.Cli;

// Ctrl-C and SIGTERM cancel the benchmark, which then stops everything it started (by PID).
using var stop = Interruption.Watch();

var verbose = new Option<bool>("--verbose") { Description = "Show stack traces on errors", Recursive = true };
var root = new RootCommand("dfbench: Dragonfly.PubSub benchmarks against same-run baselines")
{
    PairCommand.Create(stop.Token),
    SwarmCommand.Create(),
    BrokerLoadCommand.Create(),
    CipherCommand.Create(),
    FleetCommand.Create(stop.Token),
    verbose,
};
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    Console.Error.WriteLine($"dfbench: {parse.Errors[0].Message} (see dfbench --help)");
    return ExitCodes.Usage;
}
try
{
    // Our own signal handling and error lines, not System.CommandLine's.
    return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
}
catch (Exception) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("dfbench: interrupted; everything it started was stopped");
    return ExitCodes.Failed;
}
catch (UserFacingException e)
{
    Console.Error.WriteLine($"dfbench: {e.Message}");
    return e.ExitCode;
}
catch (Exception e)
{
    Console.Error.WriteLine(parse.GetValue(verbose) ? $"dfbench: {e}" : $"dfbench: {e.Message} (--verbose shows where)");
    return ExitCodes.Failed;
}

