namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The identity of the broker's in-process seed: role seed, peer id <c>seed-…</c>. The seed asks
/// <see cref="BrokerIssuedIdentity.Current"/> at every handshake.
/// </summary>
public sealed class SeedIdentity(Enrollment enrollment, BrokerTls tls, string brokerId, TimeProvider time)
    : BrokerIssuedIdentity("seed-", enrollment.IssueSeed, tls, brokerId, time);
