using System.CommandLine;
using System.Text.Json;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Fleet;

/// <summary>
/// <c>dfbench fleet --broker URL --topic T --size S</c>: the distribution figures of <c>dfbench swarm</c>, measured on
/// a deployed fleet instead of a namespace testbed. Exit 0 when every awaited agent finished, 1 when some did not
/// (or the run failed), 2 on bad usage.
/// </summary>
internal static class FleetCommand
{
    public static Command Create(CancellationToken stop)
    {
        var broker = new Option<string>("--broker") { Description = "The broker's HTTP API: https://HOST:8080 (TLS, needs --ca) or http://HOST:8080 (--insecure fleet)", Required = true };
        var topic = new Option<string>("--topic") { Description = "Topic to publish the test artifact on; its subscribers are the agents measured", Required = true };
        var size = new Option<string>("--size") { Description = "Size of the test artifact, e.g. 256MiB", Required = true };
        var agents = new Option<int?>("--agents") { Description = "Agents to wait for (default: every online agent subscribed to --topic, from the broker's API)" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the agents once published", DefaultValueFactory = _ => 600 };
        var ca = new Option<string?>("--ca") { Description = "The fleet CA certificate (PEM), e.g. <broker data-dir>/tls/ca.crt: the broker's HTTPS certificate must chain to it" };
        var token = new Option<string?>("--join-token") { Description = "Join token of role publisher (dfbroker token create --role publisher --topics T) for the temporary publishing agent; default DFAGENT_JOIN_TOKEN" };
        var listen = new Option<string>("--listen") { Description = "Address the publishing agent's peer port binds (the fleet's agents connect to it)", DefaultValueFactory = _ => "0.0.0.0" };
        var output = new Option<string>("--out") { Description = "Folder for result.json", DefaultValueFactory = _ => "." };
        var command = new Command("fleet", "Publish a test artifact into a running deployment and report how it spread (per-agent times from the broker's API)")
        {
            broker, topic, size, agents, timeout, ca, token, listen, output,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var say = parse.InvocationConfiguration.Output;
            var options = Read(parse, broker, topic, size, agents, timeout, ca, token, listen, output);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancel, stop);
            var report = await new FleetBenchmark(options, line => say.WriteLine(line)).RunAsync(linked.Token);
            Directory.CreateDirectory(options.Out);
            var path = Path.Combine(options.Out, "result.json");
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(report, FleetReport.Json), CancellationToken.None);
            say.WriteLine(report.Table());
            say.WriteLine($"result: {path}");
            if (report.Finished < report.Agents)
            {
                throw new UserFacingException($"only {report.Finished} of {report.Agents} agents finished within {options.Timeout.TotalSeconds:0} s (figures in {path})", ExitCodes.Failed);
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static FleetOptions Read(ParseResult parse, Option<string> broker, Option<string> topic, Option<string> size, Option<int?> agents,
        Option<double> timeout, Option<string?> ca, Option<string?> token, Option<string> listen, Option<string> output)
    {
        var brokerText = parse.GetValue(broker)!;
        if (!Uri.TryCreate(brokerText, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw UserFacingException.Usage($"--broker must be the broker's HTTP API URL, like https://broker:8080, not '{brokerText}'");
        }
        var topicText = parse.GetValue(topic)!;
        if (TopicName.ValidateTopic(topicText) is { } problem)
        {
            throw UserFacingException.Usage($"--topic: {problem}");
        }
        if (!ByteSize.TryParse(parse.GetValue(size), out var bytes) || bytes < 1)
        {
            throw UserFacingException.Usage($"--size must be a size like 64MiB, not '{parse.GetValue(size)}'");
        }
        if (parse.GetValue(agents) is < 1)
        {
            throw UserFacingException.Usage("--agents must be at least 1");
        }
        var seconds = parse.GetValue(timeout);
        if (seconds is <= 0 or > 86_400)
        {
            throw UserFacingException.Usage("--timeout must be between 0 and 86400 seconds");
        }
        var caFile = parse.GetValue(ca);
        if (url.Scheme == Uri.UriSchemeHttps && caFile is null)
        {
            throw UserFacingException.Usage("an https:// broker needs --ca FILE (the fleet CA, e.g. <broker data-dir>/tls/ca.crt)");
        }
        if (caFile is not null && !File.Exists(caFile))
        {
            throw UserFacingException.Usage($"--ca {caFile} does not exist");
        }
        return new FleetOptions
        {
            Broker = new Uri(url.GetLeftPart(UriPartial.Authority) + "/"),
            Topic = topicText,
            Size = bytes,
            Agents = parse.GetValue(agents),
            Timeout = TimeSpan.FromSeconds(seconds),
            CaFile = caFile,
            JoinToken = parse.GetValue(token),
            Listen = parse.GetValue(listen)!,
            Out = parse.GetValue(output)!,
        };
    }
}
