using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// An agent's check of a signed announcement: the signer's certificate must chain to the fleet CA this
/// agent trusts (enrolment pinned it), be in date and not revoked, and carry the broker role; then the
/// signature must verify with that certificate's key over the bytes the agent built itself.
/// </summary>
public static class AnnouncementSignatureCheck
{
    /// <summary>The <c>reason</c> label of <c>dragonfly_agent_announcements_rejected_total</c> for a verdict.</summary>
    public static string Label(SignatureVerdict verdict) => verdict switch
    {
        SignatureVerdict.Unsigned => "unsigned",
        SignatureVerdict.UntrustedSigner => "untrusted_signer",
        SignatureVerdict.BadSignature => "bad_signature",
        _ => "valid",
    };

    /// <param name="trust">The agent's current TLS identity: its trusted CAs and revocation check.</param>
    /// <param name="signerBase64">The announcement's signer certificate (base64 DER), or null.</param>
    /// <param name="signatureBase64">The announcement's signature (base64), or null.</param>
    /// <param name="signed">The bytes the signature must cover, built by the verifier from the parsed fields.</param>
    public static (SignatureVerdict Verdict, string Reason) Verify(TlsIdentity trust, string? signerBase64, string? signatureBase64, ReadOnlySpan<byte> signed)
    {
        ArgumentNullException.ThrowIfNull(trust);
        if (string.IsNullOrEmpty(signerBase64) || string.IsNullOrEmpty(signatureBase64))
        {
            return (SignatureVerdict.Unsigned, "it is not signed by the broker (no signer or signature)");
        }
        X509Certificate2 signer;
        byte[] signature;
        try
        {
            signer = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(signerBase64));
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            return (SignatureVerdict.UntrustedSigner, $"its signer certificate is unreadable ({e.Message.TrimEnd('.')})");
        }
        try
        {
            signature = Convert.FromBase64String(signatureBase64);
        }
        catch (FormatException)
        {
            signer.Dispose();
            return (SignatureVerdict.BadSignature, "its signature is not base64");
        }
        using (signer)
        {
            var check = trust.Check(signer);
            if (!check.Ok)
            {
                return (SignatureVerdict.UntrustedSigner, $"its signer is not trusted: {check.Failure}");
            }
            if (!check.Peer!.Has(PeerRole.Broker))
            {
                return (SignatureVerdict.UntrustedSigner, $"its signer '{check.Peer.PeerId}' is a fleet member ({check.Peer.RoleNames}), not the broker");
            }
            using var key = signer.GetECDsaPublicKey();
            if (key is null)
            {
                return (SignatureVerdict.UntrustedSigner, $"its signer '{check.Peer.PeerId}' has no ECDSA key");
            }
            bool valid;
            try
            {
                valid = key.VerifyData(signed, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            }
            catch (CryptographicException)
            {
                valid = false;
            }
            return valid
                ? (SignatureVerdict.Valid, "")
                : (SignatureVerdict.BadSignature, $"its signature does not match its content (signed by '{check.Peer.PeerId}')");
        }
    }
}
