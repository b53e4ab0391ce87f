using System.CommandLine;
using System.Globalization;
using Dragonfly.PubSub.Bench.BrokerLoad.Measurement;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.BrokerLoad;

/// <summary>
/// <c>dfbench broker</c>: N simulated agents (scheduler streams and MQTT subscribers from this one
/// process) against one dfbroker (or several sharing one Redis) on 127.0.0.1: schedule latency p50/p99 and the broker's RSS. Add it
/// with <c>root.Add(BrokerLoadCommand.Create())</c>; it handles Ctrl-C and SIGTERM itself (the broker
/// is stopped by PID and every connection closed) and reports user errors as <see cref="UserFacingException"/>.
/// </summary>
public static class BrokerLoadCommand
{
    public static Command Create()
    {
        var defaults = new BrokerLoadOptions();
        var agents = new Option<int>("--agents") { Description = "Simulated agents (one scheduler stream and one MQTT client each)", DefaultValueFactory = _ => defaults.Agents };
        var brokers = new Option<int>("--brokers")
        {
            Description = "dfbroker processes (1-16); above 1 they share one redis-server that the benchmark starts and stops (Debian's, --state redis://), "
                + "each task's agents go to the broker rendezvous hashing picks as dfagent --broker A,B,C does, and the report gives p50/p99, RSS and CPU per broker "
                + "(no MQTT clients then: several brokers announce through an external MQTT broker)",
            DefaultValueFactory = _ => defaults.Brokers,
        };
        var tasks = new Option<int>("--tasks") { Description = "Tasks the agents are spread over", DefaultValueFactory = _ => defaults.Tasks };
        var publishers = new Option<int>("--publishers") { Description = "Agents per task that join as publisher with every piece", DefaultValueFactory = _ => defaults.PublishersPerTask };
        var pieces = new Option<int>("--pieces") { Description = "Pieces per task", DefaultValueFactory = _ => defaults.Pieces };
        var fill = new Option<double>("--fill") { Description = "Fraction of the pieces an ordinary agent holds when it joins (0 = empty bitmap)", DefaultValueFactory = _ => defaults.Fill };
        var duration = new Option<double>("--duration") { Description = "Seconds of measured load", DefaultValueFactory = _ => defaults.Duration.TotalSeconds };
        var need = new Option<double>("--need-interval") { Description = "Each agent sends NeedParents every S..2S seconds", DefaultValueFactory = _ => defaults.NeedInterval.TotalSeconds };
        var report = new Option<double>("--report-interval") { Description = "Each agent reports a finished piece every S..2S seconds (0 = never)", DefaultValueFactory = _ => defaults.ReportInterval.TotalSeconds };
        var profile = new Option<string>("--profile")
        {
            Description = string.Create(CultureInfo.InvariantCulture,
                $"Piece-report rate: 'default' (--report-interval) or 'swarm' (the rate of a real swarm: 100 Mbit/s links, the default {SwarmReportRate.PieceBytes / 1024} KiB pieces of a 256 MiB file = {SwarmReportRate.PiecesPerSecondPerAgent:0.00} pieces/s per agent)"),
            DefaultValueFactory = _ => "default",
        };
        var pieceNews = new Option<string>("--piece-news")
        {
            Description = "'peer': the agents say they poll their parents' piece maps (dfagent's default), so the broker relays no piece news; 'broker': they do not, and it relays every report to the reporter's children (dfagent --piece-news broker)",
            DefaultValueFactory = _ => "peer",
        };
        var timeout = new Option<double>("--timeout") { Description = "A request not answered within S seconds (or never, or not sent) counts as S", DefaultValueFactory = _ => defaults.Timeout.TotalSeconds };
        var tls = new Option<string>("--tls") { Description = "on|off: whether dfbroker runs with TLS; off passes --insecure to a dfbroker that knows the flag", DefaultValueFactory = _ => "off" };
        var broker = new Option<string?>("--broker") { Description = "dfbroker executable (default: the one built in this repository)" };
        var pollers = new Option<int>("--dashboard-pollers") { Description = "Dashboard pages polling GET /api/v1/dashboard every second during the load", DefaultValueFactory = _ => 0 };
        var streams = new Option<int>("--dashboard-streams") { Description = "Dashboard pages following /api/v1/dashboard/events during the load", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Folder for result.json", DefaultValueFactory = _ => defaults.Out };
        var command = new Command("broker", "Many simulated agents against one dfbroker (or several on one Redis) on loopback: schedule latency p50/p99 and each broker's RSS")
        {
            agents, brokers, tasks, publishers, pieces, fill, duration, need, report, profile, pieceNews, timeout, tls, broker, pollers, streams, output,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var say = parse.InvocationConfiguration.Output;
            var options = new BrokerLoadOptions
            {
                Agents = parse.GetValue(agents) is var n and >= 1 and <= 20_000 ? n : throw UserFacingException.Usage("--agents must be between 1 and 20000"),
                Brokers = parse.GetValue(brokers) is var nb and >= 1 and <= 16 ? nb : throw UserFacingException.Usage("--brokers must be between 1 and 16"),
                Tasks = parse.GetValue(tasks) is var t and >= 1 and <= 1000 ? t : throw UserFacingException.Usage("--tasks must be between 1 and 1000"),
                PublishersPerTask = parse.GetValue(publishers) is var p and >= 1 and <= 100 ? p : throw UserFacingException.Usage("--publishers must be between 1 and 100"),
                Pieces = parse.GetValue(pieces) is var c and >= 1 and <= 4096 ? c : throw UserFacingException.Usage("--pieces must be between 1 and 4096"),
                Fill = parse.GetValue(fill) is var f and >= 0 and < 1 ? f : throw UserFacingException.Usage("--fill must be at least 0 and below 1"),
                Duration = Seconds(parse.GetValue(duration), "--duration", 1, 3600),
                NeedInterval = Seconds(parse.GetValue(need), "--need-interval", 0.01, 600),
                ReportInterval = parse.GetValue(report) is 0 ? TimeSpan.Zero : Seconds(parse.GetValue(report), "--report-interval", 0.01, 600),
                Timeout = Seconds(parse.GetValue(timeout), "--timeout", 0.1, 600),
                Tls = parse.GetValue(tls) switch
                {
                    "off" => false,
                    "on" => throw UserFacingException.Usage("--tls on: the simulated agents do not speak TLS yet; use --tls off (dfbroker then gets --insecure)"),
                    var other => throw UserFacingException.Usage($"--tls must be 'on' or 'off', not '{other}'"),
                },
                ParentPieceMaps = parse.GetValue(pieceNews) switch
                {
                    "peer" => true,
                    "broker" => false,
                    var other => throw UserFacingException.Usage($"--piece-news must be 'peer' or 'broker', not '{other}'"),
                },
                BrokerPath = parse.GetValue(broker),
                DashboardPollers = parse.GetValue(pollers) is var dp and >= 0 and <= 1000 ? dp : throw UserFacingException.Usage("--dashboard-pollers must be between 0 and 1000"),
                DashboardStreams = parse.GetValue(streams) is var ds and >= 0 and <= 64 ? ds : throw UserFacingException.Usage("--dashboard-streams must be between 0 and 64 (the broker's limit of event streams)"),
                Out = parse.GetValue(output)!,
                Say = line => say.WriteLine(line),
            };
            switch (parse.GetValue(profile))
            {
                case "default":
                    break;
                case "swarm" when parse.GetResult(report) is { Implicit: false }:
                    throw UserFacingException.Usage("--profile swarm sets the report interval itself; leave out --report-interval");
                case "swarm" when options.ParentPieceMaps:
                    options = options with { Profile = LoadProfile.Swarm, ReportInterval = SwarmReportRate.ThrottledReportInterval, PiecesPerReport = SwarmReportRate.PiecesPerThrottledReport };
                    break;
                case "swarm":
                    options = options with { Profile = LoadProfile.Swarm, ReportInterval = SwarmReportRate.ReportInterval };
                    break;
                case var other:
                    throw UserFacingException.Usage($"--profile must be 'default' or 'swarm', not '{other}'");
            }
            if (options.Agents <= options.Tasks * options.PublishersPerTask)
            {
                throw UserFacingException.Usage($"--agents {options.Agents} leaves no ordinary agent beside {options.Tasks} × {options.PublishersPerTask} publishers; raise --agents or lower --tasks/--publishers");
            }
            // Our own Ctrl-C/SIGTERM handling, whatever the host does: cancel, unwind, stop the broker.
            using var stop = Interruption.Watch(cancel);
            BrokerLoadReport result;
            try
            {
                result = await new BrokerLoadBenchmark(options).RunAsync(stop.Token);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                throw new UserFacingException("interrupted; the broker was stopped and every connection closed");
            }
            say.Write(ReportTable.Format(result));
            say.WriteLine($"wrote {BrokerLoadBenchmark.Write(result, options.Out)}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static TimeSpan Seconds(double value, string flag, double min, double max) =>
        value >= min && value <= max
            ? TimeSpan.FromSeconds(value)
            : throw UserFacingException.Usage(string.Create(CultureInfo.InvariantCulture, $"{flag} must be between {min} and {max} seconds"));
}
