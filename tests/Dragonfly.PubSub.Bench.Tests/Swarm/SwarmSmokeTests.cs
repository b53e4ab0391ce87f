using System.CommandLine;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Swarm;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

/// <summary>
/// A real, small run of <c>dfbench swarm</c>: namespaces, tbf, broker and 3 agents, nginx + curl.
/// Needs root and nginx/curl (eng/test.sh installs nginx; CI runs as root). It checks that the
/// harness works and its report holds what it must, never how fast anything was.
/// </summary>
public sealed class SwarmSmokeTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"dfbench-swarm-smoke-{Guid.NewGuid():N}");

    [Fact]
    public async Task ThreeAgents_FewMiB_WritesAVerifiedReportForDragonflyAndDirect()
    {
        Assert.True(Environment.UserName == "root", "the swarm smoke test needs root (network namespaces, tc); CI runs it as root");
        var root = new RootCommand { SwarmCommand.Create() };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var code = await root.Parse(["swarm", "--agents", "3", "--size", "4MiB", "--rate", "200mbit", "--baselines", "direct", "--out", _out])
            .InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = new TestWriter(output), Error = new TestWriter(output) }, timeout.Token);
        Assert.Equal(0, code);

        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_out, "result.json")));
        var dMin = report.RootElement.GetProperty("dMinSeconds").GetDouble();
        Assert.Equal(4.0 * 1048576 / (200e6 / 8), dMin, 6); // F/u_s binds: 3 receivers, 4 links
        Assert.Equal(3, report.RootElement.GetProperty("scenario").GetProperty("agents").GetInt32());
        Assert.True(report.RootElement.TryGetProperty("machine", out _));
        Assert.True(report.RootElement.TryGetProperty("date", out _));
        var systems = report.RootElement.GetProperty("systems").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Equal(["direct", "dragonfly"], systems.Keys.Order());
        foreach (var (name, system) in systems)
        {
            Assert.True(system.GetProperty("verified").GetBoolean(), $"{name}: a copy did not match the digest");
            var all = system.GetProperty("allFinishedSeconds").GetDouble();
            Assert.True(all > 0, $"{name}: allFinishedSeconds {all}");
            Assert.Equal(all / dMin, system.GetProperty("ratioToDMin").GetDouble(), 6);
            Assert.True(system.GetProperty("p50Seconds").GetDouble() <= system.GetProperty("p99Seconds").GetDouble());
            Assert.Equal(3, system.GetProperty("completionSeconds").GetArrayLength());
            // Every byte of at least one copy left the origin or publisher, and it did not serve all three alone
            // (dragonfly) or served about three copies (direct).
            var egress = system.GetProperty("originEgressRatio").GetDouble();
            Assert.True(egress >= 0.9, $"{name}: originEgressRatio {egress}");
            Assert.True(system.GetProperty("publisherUploadRatio").GetDouble() > 0);
            Assert.True(system.GetProperty("peakRssBytes").GetInt64() > 0);
            Assert.True(system.GetProperty("cpuSecondsPerGB").GetDouble() >= 0);
        }
        Assert.InRange(systems["direct"].GetProperty("originEgressRatio").GetDouble(), 2.9, 3.3);
        Assert.True(File.Exists(Path.Combine(_out, "cdf.svg")));

        // Nothing left behind: no namespace of this process, no workspace.
        using var list = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ip", "netns list") { RedirectStandardOutput = true })!;
        var namespaces = await list.StandardOutput.ReadToEndAsync();
        await list.WaitForExitAsync();
        Assert.DoesNotContain($"dfb-{Environment.ProcessId}-", namespaces, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/dev/shm/dfbench-swarm-{Environment.ProcessId}"));
    }

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }

    private sealed class TestWriter(ITestOutputHelper output) : StringWriter
    {
        public override void WriteLine(string? value) => output.WriteLine(value ?? "");
    }
}
