namespace Dragonfly.PubSub.Broker.Http;

/// <summary><c>GET /healthz</c>: "ok" or what is down, and whether the broker runs with TLS (false with --insecure).</summary>
public sealed record HealthReport(string Status, bool Tls);
