using Dragonfly.PubSub.Agent.Configuration;

namespace Dragonfly.PubSub.Get;

/// <summary>How dfget's one-shot agent authenticates: dfagent's TLS flags, and where the broker's HTTPS API is (for enrolment).</summary>
internal sealed record OneShotTls(AgentTlsSettings Settings, string? BrokerHttp);
