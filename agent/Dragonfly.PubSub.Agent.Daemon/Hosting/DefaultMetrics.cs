using Prometheus;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// prometheus-net's default metrics without its EventCounter adapter. That adapter subscribes to the
/// runtime's event sources at Informational level (System.Net.Http, .Security and .Sockets, Kestrel,
/// gRPC), which turns on their telemetry paths: every connection, TLS handshake and request writes events
/// to the listener, and every failed HTTP request formats its exception's stack trace. On .NET 10 it
/// exports no series of its own here; the process metrics and the Meter adapter (system_runtime_dotnet_*,
/// the HTTP and Kestrel meters) stay.
/// </summary>
public static class DefaultMetrics
{
    /// <summary>Call at start-up, before the first scrape (prometheus-net starts its defaults then).</summary>
    public static void WithoutEventCounters() =>
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressEventCounters = true });
}
