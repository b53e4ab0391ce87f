namespace Dragonfly.PubSub.Security;

/// <summary>What <see cref="AnnouncementSignatureCheck.Verify"/> found; the metric label of a refusal is <see cref="AnnouncementSignatureCheck.Label"/>.</summary>
public enum SignatureVerdict
{
    Valid,

    /// <summary>No signer certificate or no signature.</summary>
    Unsigned,

    /// <summary>The signer's certificate is unreadable, not from the fleet CA, expired, revoked, or not the broker's.</summary>
    UntrustedSigner,

    /// <summary>The signature does not match the signed bytes (tampered with, or not a signature).</summary>
    BadSignature,
}
