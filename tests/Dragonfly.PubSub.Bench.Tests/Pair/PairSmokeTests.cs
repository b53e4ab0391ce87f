using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Processes;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.Bench.Tests.Pair;

/// <summary>
/// A real, tiny run of the <c>dfbench pair</c> executable with <c>--tls both</c>: broker, agents A and B, dfpub,
/// dfget, nginx and curl on loopback, once with TLS (the broker's fleet CA, agents enrolled with a join token)
/// and once with --insecure. Needs nginx and curl (eng/test.sh installs them). It checks that the harness works
/// and that its report holds what it must, never how fast anything was.
/// </summary>
public sealed class PairSmokeTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>A hang guard, not a speed bound: every wait inside the benchmark has its own deadline.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(10);
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"dfbench-pair-smoke-{Guid.NewGuid():N}");

    [Fact]
    public async Task TlsBoth_FewMiB_RunsEncryptedAndPlain_AndReportsTheirRatio()
    {
        var dfbench = Path.Combine(Executables.RepoRoot, "bench", "Dragonfly.PubSub.Bench", "bin", Executables.Configuration, "net10.0", "dfbench");
        var result = await ProcessRunner.RunAsync(dfbench, ["pair", "--size", "4MiB", "--runs", "1", "--tls", "both", "--via", "both", "--out", _out], HangGuard, CancellationToken.None);
        output.WriteLine(result.Stdout);
        output.WriteLine(result.Stderr);
        Assert.True(result.ExitCode == 0, $"dfbench pair exited with {result.ExitCode}: {result.LastLine}");

        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_out, "result.json")));
        var root = report.RootElement;
        Assert.Equal(4L << 20, root.GetProperty("sizeBytes").GetInt64());
        // One run per setting, interleaved; each transfer says what the benchmark saw from outside the processes:
        // the broker's /healthz "tls" and both agents' certificates from the broker's fleet CA.
        var runs = root.GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(["on", "off"], runs.Select(r => r.GetProperty("tls").GetString()));
        foreach (var run in runs)
        {
            var tls = run.GetProperty("tls").GetString() == "on";
            foreach (var way in new[] { "dfget", "subscribe" })
            {
                var transfer = run.GetProperty(way);
                Assert.Equal(tls, transfer.GetProperty("encrypted").GetBoolean());
                Assert.True(transfer.GetProperty("seconds").GetDouble() > 0);
                Assert.True(transfer.GetProperty("gibPerSecond").GetDouble() > 0);
            }
        }
        Assert.StartsWith("on: TLS", root.GetProperty("tls").GetProperty("on").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("off: --insecure", root.GetProperty("tls").GetProperty("off").GetString(), StringComparison.Ordinal);
        // The brokers themselves say how they ran.
        Assert.Contains("tls=on", await File.ReadAllTextAsync(Path.Combine(_out, "logs", "tls-on", "broker.log")), StringComparison.Ordinal);
        Assert.Contains("tls=off", await File.ReadAllTextAsync(Path.Combine(_out, "logs", "tls-off", "broker.log")), StringComparison.Ordinal);

        // Issue 9's figure: TLS-on median throughput over TLS-off, per way of pulling.
        var medians = root.GetProperty("medians").EnumerateArray().ToDictionary(m => m.GetProperty("tls").GetString()!);
        foreach (var way in new[] { "dfget", "subscribe" })
        {
            var ratio = root.GetProperty("tlsRatios").GetProperty(way);
            var on = medians["on"].GetProperty(way).GetProperty("gibPerSecond").GetDouble();
            var off = medians["off"].GetProperty(way).GetProperty("gibPerSecond").GetDouble();
            Assert.Equal(on / off, ratio.GetProperty("ratio").GetDouble(), 6);
            Assert.Equal(0.9, ratio.GetProperty("target").GetDouble());
            Assert.Equal(on / off >= 0.9, ratio.GetProperty("met").GetBoolean());
            Assert.True(ratio.GetProperty("onCpuSeconds").GetDouble() > 0);
        }
        Assert.Contains("TLS on/off (dfget): ", result.Stdout, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_out))
        {
            Directory.Delete(_out, recursive: true);
        }
    }
}
