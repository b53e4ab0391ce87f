using Dragonfly.PubSub.Broker.Security;

namespace Dragonfly.PubSub.Broker.Bridge;

/// <summary>
/// The identity of the bridge's two in-process agents (secure mode): roles agent and publisher, peer id
/// <c>bridge-…</c>, certified by the fleet CA, so that the other cluster's broker, which shares the CA,
/// accepts it, and this broker lets it announce.
/// </summary>
public sealed class BridgeIdentity(Enrollment enrollment, BrokerTls tls, string brokerId, TimeProvider time)
    : BrokerIssuedIdentity("bridge-", enrollment.IssueBridge, tls, brokerId, time);
