namespace Dragonfly.PubSub.Security;

/// <summary>What a certificate's holder is in the fleet; written as the URI SAN <c>urn:dragonfly:role:&lt;name&gt;</c>.</summary>
public enum PeerRole
{
    Agent,
    Seed,
    Publisher,
    Admin,

    /// <summary>The broker's own server certificate; never issued through a token.</summary>
    Broker,
}
