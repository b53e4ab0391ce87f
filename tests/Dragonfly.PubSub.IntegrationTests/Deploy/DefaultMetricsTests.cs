using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.IntegrationTests.Deploy;

/// <summary>
/// /metrics keeps prometheus-net's process metrics and the runtime's meters, but not its EventCounter
/// adapter, whose listener switched on the runtime's network telemetry (events for every connection,
/// handshake and request) and exported nothing of its own.
/// </summary>
public sealed class DefaultMetricsTests(ITestOutputHelper output)
{
    [Fact]
    public Task BrokerAndAgent_ExportProcessAndMeterMetrics_WithoutTheEventCounterAdapter() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        var agent = await cluster.StartAgentAsync("agent");

        foreach (var (name, http) in new[] { ("dfbroker", broker.Http), ("dfagent", agent.Http) })
        {
            // prometheus-net starts its default adapters at the first scrape: the second one shows what they export.
            await http.GetStringAsync("metrics");
            var text = await http.GetStringAsync("metrics");
            var lines = text.Split('\n');
            Assert.True(lines.Any(l => l.StartsWith("process_cpu_seconds_total ", StringComparison.Ordinal)), $"{name}: no process_cpu_seconds_total:\n{text}");
            Assert.True(lines.Any(l => l.StartsWith("system_runtime_dotnet_gc_collections", StringComparison.Ordinal)), $"{name}: the runtime's meters are gone:\n{text}");
            Assert.False(lines.Any(l => l.Contains("eventcounteradapter", StringComparison.Ordinal)), $"{name}: the EventCounter adapter is running:\n{text}");
        }
    });
}
