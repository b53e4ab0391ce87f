using Prometheus;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>Counters of refused connections and issued certificates, so that refusals can be counted from /metrics.</summary>
internal static class SecurityMetrics
{
    public static readonly Counter Refused = Metrics.CreateCounter(
        "dragonfly_broker_tls_refused_total", "Connections or requests refused for identity reasons (bad, foreign, revoked or missing certificate; client id not the certificate's).",
        new CounterConfiguration { LabelNames = ["listener"] });

    public static readonly Counter Denied = Metrics.CreateCounter(
        "dragonfly_broker_permission_denied_total", "Requests of authenticated peers refused because their role or topics do not allow them (MQTT publish or subscribe, gRPC publish, URL task, seed).",
        new CounterConfiguration { LabelNames = ["listener"] });

    public static readonly Counter Issued = Metrics.CreateCounter(
        "dragonfly_broker_certificates_issued_total", "Peer certificates issued (enrolment, renewal, seed).",
        new CounterConfiguration { LabelNames = ["kind"] });
}
