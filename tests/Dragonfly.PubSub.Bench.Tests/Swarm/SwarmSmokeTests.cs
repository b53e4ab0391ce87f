using System.CommandLine;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Swarm;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

/// <summary>
/// Real, small runs of <c>dfbench swarm</c>: namespaces, tbf, broker and 3 agents, nginx + curl.
/// Needs root, iproute2 (ip, tc), nginx and curl (eng/test.sh installs them; CI runs as root). They check that the
/// harness works and its report holds what it must, never how fast anything was.
/// </summary>
public sealed class SwarmSmokeTests(ITestOutputHelper output) : IDisposable
{
    private const double FourMiB = 4.0 * 1048576;

    /// <summary>
    /// A hang guard, not a speed bound: every wait inside the benchmark ends on an event (a ready file,
    /// a task event, a process exit) or on its own deadline, which fails the run with what it waited for.
    /// </summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(10);
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"dfbench-swarm-smoke-{Guid.NewGuid():N}");

    /// <summary>
    /// Publish mode with --tls both: our swarm once with TLS (the broker's fleet CA, agents in the namespaces
    /// enrolled with a join token, the broker's certificate naming the origin's address) and once plain text.
    /// </summary>
    [Fact]
    public async Task ThreeAgents_FewMiB_TlsBoth_WritesAVerifiedReportForDragonflyBothWaysAndDirect()
    {
        using var report = await RunAsync("--baselines", "direct", "--tls", "both");
        var systems = CheckReport(report.RootElement, ["direct", "dragonfly", "dragonfly-notls"], "on,off");
        foreach (var (name, system) in systems)
        {
            // Every byte of at least one copy left the origin or publisher.
            var egress = system.GetProperty("originEgressRatio").GetDouble();
            Assert.True(egress >= 0.9, $"{name}: originEgressRatio {egress}");
            Assert.True(system.GetProperty("publisherUploadRatio").GetDouble() > 0);
        }
        Assert.Equal("publish", report.RootElement.GetProperty("scenario").GetProperty("mode").GetString());
        Assert.Equal(3.0, systems["direct"].GetProperty("originEgressRatio").GetDouble(), 6); // nginx's body bytes: 3 copies
        // The receivers' scheduler load, from their counters: each reported its pieces and heard parent sets.
        foreach (var name in new[] { "dragonfly", "dragonfly-notls" })
        {
            var load = systems[name].GetProperty("schedulerLoad");
            Assert.True(load.GetProperty("pieceReportsPerAgentSecond").GetDouble() > 0, $"{name}: {load}");
            Assert.True(load.GetProperty("parentSetsPerAgentSecond").GetDouble() > 0, $"{name}: {load}");
        }
        Assert.False(systems["direct"].TryGetProperty("schedulerLoad", out _), "curl has no scheduler");
        // What the benchmark saw from outside: broker.json's tls flag and every agent's certificate from the fleet CA.
        Assert.True(systems["dragonfly"].GetProperty("encrypted").GetBoolean(), "the TLS run did not run with TLS");
        Assert.StartsWith("on: ", systems["dragonfly"].GetProperty("tls").GetString(), StringComparison.Ordinal);
        Assert.False(systems["dragonfly-notls"].GetProperty("encrypted").GetBoolean(), "the plain-text run ran with TLS");
        Assert.StartsWith("off: ", systems["dragonfly-notls"].GetProperty("tls").GetString(), StringComparison.Ordinal);
        var notes = report.RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!).ToArray();
        Assert.Contains("dragonfly run 1: transport: broker.json tls=true, 4 of 4 agents hold a certificate of the broker's fleet CA => TLS", notes);
        // The comparison the issue asks for: TLS on against off, from the two systems' median runs.
        var comparison = Assert.Single(report.RootElement.GetProperty("tlsComparisons").EnumerateArray());
        Assert.Equal("dragonfly", comparison.GetProperty("system").GetString());
        Assert.Equal(systems["dragonfly"].GetProperty("allFinishedSeconds").GetDouble() / systems["dragonfly-notls"].GetProperty("allFinishedSeconds").GetDouble(),
            comparison.GetProperty("ratio").GetDouble(), 6);
        Assert.Equal(1.05, comparison.GetProperty("target").GetDouble());
        Assert.Equal(comparison.GetProperty("ratio").GetDouble() <= 1.05, comparison.GetProperty("met").GetBoolean());
        AssertNothingLeftBehind();
    }

    /// <summary>
    /// URL tasks both ways (dfget on every receiver; dfpub --url to subscribers): nginx's access log
    /// shows one copy served, all of it to the broker's seed on the origin node, and the seed
    /// uploaded (the agents in other namespaces reached it under the broker's address).
    /// </summary>
    [Fact]
    public async Task ThreeAgents_UrlTask_OriginServesOneCopyToTheSeedOnly()
    {
        using var report = await RunAsync("--mode", "url,url-announce", "--piece-size", "1MiB", "--baselines", "direct", "--tls", "off");
        var systems = CheckReport(report.RootElement, ["direct", "dragonfly-url", "dragonfly-url-announce"], "off");
        Assert.Empty(report.RootElement.GetProperty("tlsComparisons").EnumerateArray());
        Assert.Equal("url,url-announce", report.RootElement.GetProperty("scenario").GetProperty("mode").GetString());
        var notes = report.RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!).ToArray();
        foreach (var name in new[] { "dragonfly-url", "dragonfly-url-announce" })
        {
            var system = systems[name];
            Assert.Equal("nginx access log: body bytes sent", system.GetProperty("originEgressMeasure").GetString());
            // The whole file came from the origin once (a re-fetched piece would show here), never more than the target.
            var egress = system.GetProperty("originEgressRatio").GetDouble();
            Assert.InRange(egress, 1.0, 1.02);
            // At least one copy left the seed: the agents could dial it.
            Assert.True(system.GetProperty("publisherUploadRatio").GetDouble() >= 1.0, $"{name}: publisherUploadRatio {system.GetProperty("publisherUploadRatio")}");
            Assert.Contains(notes, n => n.StartsWith($"{name} run 1: ", StringComparison.Ordinal) && n.Contains("receivers fetched 0 bytes from the origin themselves", StringComparison.Ordinal));
            // Only the seed, on the origin node itself, asked nginx for anything.
            var clients = notes.Single(n => n.StartsWith($"{name} run 1: origin nginx served", StringComparison.Ordinal)).Split("by client: ")[1];
            Assert.StartsWith("10.213.0.1 4194304 B in ", clients, StringComparison.Ordinal);
            Assert.DoesNotContain(",", clients, StringComparison.Ordinal);
        }
        Assert.Contains(notes, n => n.StartsWith("dragonfly-url-announce run 1: task sha256:", StringComparison.Ordinal) && n.EndsWith("pieces 4 of 1048576 bytes", StringComparison.Ordinal));
        Assert.Equal(3.0, systems["direct"].GetProperty("originEgressRatio").GetDouble(), 6);
        AssertNothingLeftBehind();
    }

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    private async Task<JsonDocument> RunAsync(params string[] extra)
    {
        Assert.True(Environment.UserName == "root", "the swarm smoke tests need root (network namespaces, tc); CI runs them as root");
        var root = new RootCommand { SwarmCommand.Create() };
        using var timeout = new CancellationTokenSource(HangGuard);
        var code = await root.Parse(["swarm", "--agents", "3", "--size", "4MiB", "--rate", "200mbit", "--out", _out, .. extra])
            .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = new TestWriter(output), Error = new TestWriter(output) }, timeout.Token);
        Assert.Equal(0, code);
        Assert.True(File.Exists(Path.Combine(_out, "cdf.svg")));
        return JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_out, "result.json")));
    }

    /// <summary>What every report holds; returns its systems by name.</summary>
    private static Dictionary<string, JsonElement> CheckReport(JsonElement report, string[] names, string tls)
    {
        var dMin = report.GetProperty("dMinSeconds").GetDouble();
        Assert.Equal(FourMiB / (200e6 / 8), dMin, 6); // F/u_s binds: 3 receivers, 4 links
        Assert.Equal(3, report.GetProperty("scenario").GetProperty("agents").GetInt32());
        Assert.True(report.TryGetProperty("machine", out _));
        Assert.True(report.TryGetProperty("date", out _));
        var systems = report.GetProperty("systems").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Equal(names, systems.Keys.Order());
        Assert.Equal(tls, report.GetProperty("scenario").GetProperty("tls").GetString());
        Assert.Matches(@"^\d+\.\d+ \d+\.\d+ \d+\.\d+$", report.GetProperty("machine").GetProperty("loadAverageAtStart").GetString());
        foreach (var (name, system) in systems)
        {
            Assert.True(system.GetProperty("verified").GetBoolean(), $"{name}: a copy did not match the digest");
            // Each system says what its clock includes, and the time from the user's command is never shorter.
            Assert.StartsWith("from ", system.GetProperty("clockStart").GetString(), StringComparison.Ordinal);
            Assert.True(system.GetProperty("allFinishedFromCommandSeconds").GetDouble() >= system.GetProperty("allFinishedSeconds").GetDouble(),
                $"{name}: allFinishedFromCommandSeconds < allFinishedSeconds");
            Assert.Matches(@"^\d+\.\d+ ", system.GetProperty("loadAverageBefore").GetString());
            Assert.Matches(@"^\d+\.\d+ ", system.GetProperty("loadAverageAfter").GetString());
            Assert.Equal(name.StartsWith("dragonfly", StringComparison.Ordinal), system.TryGetProperty("tls", out _));
            Assert.Equal(name.StartsWith("dragonfly", StringComparison.Ordinal), system.TryGetProperty("encrypted", out _));
            var all = system.GetProperty("allFinishedSeconds").GetDouble();
            Assert.True(all > 0, $"{name}: allFinishedSeconds {all}");
            Assert.Equal(all / dMin, system.GetProperty("ratioToDMin").GetDouble(), 6);
            Assert.True(system.GetProperty("p50Seconds").GetDouble() <= system.GetProperty("p99Seconds").GetDouble());
            Assert.Equal(3, system.GetProperty("completionSeconds").GetArrayLength());
            Assert.True(system.GetProperty("peakRssBytes").GetInt64() > 0);
            Assert.True(system.GetProperty("cpuSecondsPerGB").GetDouble() >= 0);
        }
        return systems;
    }

    /// <summary>No namespace of this process, no workspace.</summary>
    private static void AssertNothingLeftBehind()
    {
        using var list = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ip", "netns list") { RedirectStandardOutput = true })!;
        var namespaces = list.StandardOutput.ReadToEnd();
        list.WaitForExit();
        Assert.DoesNotContain($"dfb-{Environment.ProcessId}-", namespaces, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/dev/shm/dfbench-swarm-{Environment.ProcessId}"));
    }

    private sealed class TestWriter(ITestOutputHelper output) : StringWriter
    {
        public override void WriteLine(string? value) => output.WriteLine(value ?? "");
    }
}
