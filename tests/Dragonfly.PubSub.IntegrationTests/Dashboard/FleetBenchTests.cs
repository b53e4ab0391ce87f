using System.Net.Http.Json;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.IntegrationTests.Dashboard;

/// <summary>
/// <c>dfbench fleet</c> against a running deployment: a real broker and two real subscribed agents on loopback.
/// It publishes through its own temporary agent, waits for both from the broker's API, reports their times and
/// the origin's bytes, and stops its publisher again.
/// </summary>
public sealed class FleetBenchTests(ITestOutputHelper output)
{
    private const string Topic = "bench/fleet";

    private static string Dfbench => Path.Combine(Product.RepoRoot, "bench", "Dragonfly.PubSub.Bench", "bin", Product.Configuration, "net10.0", "dfbench");

    [Fact]
    public Task Fleet_AgainstTwoSubscribedAgents_ReportsEachAgentsTimeAndTheOriginBytes_AndStopsItsPublisher() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        var agents = await cluster.StartAgentsAsync("sub", 2, [Topic]);
        var results = Path.Combine(cluster.Root, "fleet-results");
        List<string> args =
        [
            "fleet", "--broker", broker.HttpUrl.ToString(), "--topic", Topic, "--size", "12MiB", "--listen", "127.0.0.1", "--timeout", "120", "--out", results,
        ];
        if (!TlsMode.Insecure)
        {
            // The publishing agent enrols with the cluster's join token (DFAGENT_JOIN_TOKEN, roles agent and publisher).
            args.AddRange(["--ca", broker.CaFile]);
        }

        var run = await cluster.RunCliAsync(Dfbench, args, TimeSpan.FromMinutes(4));

        output.WriteLine(run.ToString());
        Assert.True(run.ExitCode == 0, $"dfbench fleet failed:\n{run}");
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(results, "result.json")));
        var root = report.RootElement;
        var size = 12L << 20;
        Assert.Equal((2, 2, size, Topic, !TlsMode.Insecure),
            (root.GetProperty("agents").GetInt32(), root.GetProperty("finished").GetInt32(), root.GetProperty("sizeBytes").GetInt64(),
             root.GetProperty("topic").GetString(), root.GetProperty("tls").GetBoolean()));
        var perAgent = root.GetProperty("perAgent").EnumerateArray().ToDictionary(a => a.GetProperty("peerId").GetString()!);
        Assert.Equal(agents.Select(a => a.Info.PeerId).Order(), perAgent.Keys.Order());
        foreach (var agent in perAgent.Values)
        {
            Assert.Equal(size, agent.GetProperty("receivedBytes").GetInt64());
            Assert.True(agent.GetProperty("completionSeconds").GetDouble() > 0);
        }
        var completion = root.GetProperty("completionSeconds").EnumerateArray().Select(c => c.GetDouble()).ToList();
        Assert.Equal(perAgent.Values.Select(a => a.GetProperty("completionSeconds").GetDouble()).Order(), completion);
        Assert.Equal(completion.Max(), root.GetProperty("allFinishedSeconds").GetDouble());
        Assert.InRange(root.GetProperty("p50Seconds").GetDouble(), completion.Min(), completion.Max());
        // Every piece left the publisher at least once and reached each agent once (the broker's count); the publisher
        // itself counted at least that (it may also have sent a piece twice near the end).
        var counted = root.GetProperty("brokerOriginRatio").GetDouble();
        Assert.InRange(counted, 1.0, 2.0);
        Assert.True(root.GetProperty("originEgressRatio").GetDouble() >= counted,
            $"the publisher says it sent {root.GetProperty("originEgressRatio").GetDouble()} x the file, the broker counted {counted} x from it");

        // The artifact reached both agents intact, under the name the report gives.
        var digest = root.GetProperty("digest").GetString()!;
        var name = root.GetProperty("name").GetString()!;
        foreach (var agent in agents)
        {
            var landed = agent.OutputPathOf(Topic, name);
            Assert.Equal(digest, "sha256:" + await TestFile.HashAsync(landed));
        }

        // Cleaned up: its publishing agent is gone from the fleet, and the report says what stays.
        var swarm = await broker.Http.GetFromJsonAsync<JsonElement>($"api/v1/tasks/{digest}/swarm");
        var publisher = swarm.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("publisher").GetBoolean()).GetProperty("peerId").GetString();
        await Wait.UntilAsync("the publishing agent to leave the fleet", TimeSpan.FromSeconds(30), async () =>
        {
            var fleet = await broker.Http.GetFromJsonAsync<JsonElement>("api/v1/agents");
            return fleet.GetProperty("agents").EnumerateArray().Any(a => a.GetProperty("peerId").GetString() == publisher && !a.GetProperty("online").GetBoolean());
        });
        Assert.Contains("removed the publishing agent and the test file; left: the manifest", root.GetProperty("cleanup").GetString(), StringComparison.Ordinal);
        Assert.Contains("cleanup: removed the publishing agent", run.Stdout, StringComparison.Ordinal);
    }, TimeSpan.FromMinutes(5));

    [Fact]
    public async Task Fleet_WithBadArguments_SaysWhatIsWrongInOneLine_ExitCode2()
    {
        var noUrl = await Cli.RunAsync(Dfbench, ["fleet", "--broker", "broker:8080", "--topic", Topic, "--size", "1MiB"]);
        Assert.Equal(2, noUrl.ExitCode);
        Assert.Equal("dfbench: --broker must be the broker's HTTP API URL, like https://broker:8080, not 'broker:8080'", Assert.Single(noUrl.StderrLines));

        var noCa = await Cli.RunAsync(Dfbench, ["fleet", "--broker", "https://127.0.0.1:1", "--topic", Topic, "--size", "1MiB"]);
        Assert.Equal(2, noCa.ExitCode);
        Assert.Equal("dfbench: an https:// broker needs --ca FILE (the fleet CA, e.g. <broker data-dir>/tls/ca.crt)", Assert.Single(noCa.StderrLines));
    }
}
