using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Security;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Issues peer certificates: on enrolment for what a join token allows (the broker picks the peer id;
/// the CSR contributes its public key and nothing else), on renewal for exactly what the presented
/// certificate already says. Every issuance is logged and recorded with its token id.
/// </summary>
public sealed class Enrollment(BrokerTls tls, SecurityStore store, RevocationList revocations, TimeSpan certificateTtl, TimeProvider time, ILogger<Enrollment> logger)
{
    public EnrollmentOutcome Enroll(string? tokenText, string? csrPem)
    {
        if (!JoinToken.TryParse(tokenText, out var token, out var tokenError))
        {
            return Refuse(EnrollmentErrorKind.Unauthorized, tokenError, "?");
        }
        if (string.IsNullOrWhiteSpace(csrPem))
        {
            return Refuse(EnrollmentErrorKind.BadRequest, "the request has no csr; send {\"token\": \"dfj1...\", \"csr\": \"-----BEGIN CERTIFICATE REQUEST-----...\"}", token.Id);
        }
        if (tls.Ca is null)
        {
            return Refuse(EnrollmentErrorKind.NotIssuing, "this broker holds no CA key (--tls-ca without --tls-ca-key) and cannot enrol peers; give agents --tls-cert/--tls-key/--tls-ca", token.Id);
        }
        if (token.CaPin != tls.CaPin)
        {
            return Refuse(EnrollmentErrorKind.Unauthorized, $"join token {token.Id} was made for another CA; make one on this broker with: dfbroker token create", token.Id);
        }
        // The CSR is checked before the token is claimed: a malformed request must not use up a one-time token.
        if (!TryReadKey(csrPem, token.Id, out var publicKey, out var badCsr))
        {
            return badCsr;
        }
        var claim = store.Claim(token, time.GetUtcNow());
        if (claim.Token is not { } granted)
        {
            return Refuse(EnrollmentErrorKind.Unauthorized, claim.Refusal!, token.Id);
        }
        var identity = new PeerIdentity($"{granted.Roles[0].Name()}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}", granted.Roles, granted.Topics);
        return Issue(publicKey, identity, granted.Id, "enrolled");
    }

    /// <summary>Renews the certificate of a peer that authenticated with its current one (checked again here: it may have been revoked since the handshake).</summary>
    public EnrollmentOutcome Renew(X509Certificate2? clientCertificate, string? csrPem)
    {
        if (clientCertificate is null)
        {
            return Refuse(EnrollmentErrorKind.Unauthorized, "renewal needs the current client certificate (mutual TLS); enrol again with a join token if it is lost or expired", "-");
        }
        var check = tls.Check(clientCertificate);
        if (check.Peer is not { } peer)
        {
            return Refuse(EnrollmentErrorKind.Unauthorized, check.Failure!, "-");
        }
        if (peer.Has(PeerRole.Broker))
        {
            return Refuse(EnrollmentErrorKind.Unauthorized, "the broker's own certificate is not renewed over the API", "-");
        }
        if (string.IsNullOrWhiteSpace(csrPem))
        {
            return Refuse(EnrollmentErrorKind.BadRequest, "the request has no csr; send {\"csr\": \"-----BEGIN CERTIFICATE REQUEST-----...\"}", "-");
        }
        if (tls.Ca is null)
        {
            return Refuse(EnrollmentErrorKind.NotIssuing, "this broker holds no CA key (--tls-ca without --tls-ca-key) and cannot renew certificates", "-");
        }
        return TryReadKey(csrPem, "-", out var publicKey, out var badCsr) ? Issue(publicKey, peer, tokenId: null, "renewed") : badCsr;
    }

    /// <summary>The broker's own seed: certified directly by the CA, no token.</summary>
    public X509Certificate2 IssueSeed(string peerId)
    {
        var identity = new PeerIdentity(peerId, PeerRole.Seed, []);
        var certificate = tls.Ca!.IssueWithNewKey(identity, certificateTtl);
        Record(identity, null, certificate, "seed");
        return certificate;
    }

    // Across clusters (issue 12).
    /// <summary>
    /// The broker's bridge member (Bridge/BridgeMembers): certified directly by the CA, no token; an agent
    /// that may also publish, so that it can announce in this cluster what it fetched from the other one.
    /// </summary>
    public X509Certificate2 IssueBridge(string peerId)
    {
        var identity = new PeerIdentity(peerId, [PeerRole.Agent, PeerRole.Publisher], []);
        var certificate = tls.Ca!.IssueWithNewKey(identity, certificateTtl);
        Record(identity, null, certificate, "bridge");
        return certificate;
    }

    private bool TryReadKey(string csrPem, string tokenId, out PublicKey publicKey, out EnrollmentOutcome refusal)
    {
        try
        {
            publicKey = FleetCa.PublicKeyOfCsr(csrPem);
            refusal = default!;
            return true;
        }
        catch (CsrException e)
        {
            publicKey = null!;
            refusal = Refuse(EnrollmentErrorKind.BadRequest, e.Message, tokenId);
            return false;
        }
    }

    private EnrollmentOutcome Issue(PublicKey publicKey, PeerIdentity identity, string? tokenId, string what)
    {
        if (revocations.IsRevoked(identity.PeerId))
        {
            return Refuse(EnrollmentErrorKind.Unauthorized, $"peer {identity.PeerId} is revoked; enrol a new peer with a fresh join token", tokenId ?? "-");
        }
        using (var certificate = tls.Ca!.IssueForKey(publicKey, identity, certificateTtl))
        {
            Record(identity, tokenId, certificate, what);
            return new EnrollmentOutcome(
                new EnrollmentResponse(identity.PeerId, identity.RoleNames, identity.Topics, certificate.ExportCertificatePem(), tls.CaCertificatePem,
                    new DateTimeOffset(certificate.NotAfter.ToUniversalTime())),
                EnrollmentErrorKind.None, null);
        }
    }

    private void Record(PeerIdentity identity, string? tokenId, X509Certificate2 certificate, string what)
    {
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        store.RecordIssuance(identity.PeerId, tokenId, identity, certificate.SerialNumber, notAfter, time.GetUtcNow());
        BrokerLog.CertificateIssued(logger, what, identity.PeerId, identity.RoleNames, string.Join(",", identity.Topics), tokenId ?? "none", certificate.SerialNumber, notAfter);
    }

    private EnrollmentOutcome Refuse(EnrollmentErrorKind kind, string error, string tokenId)
    {
        BrokerLog.EnrollmentRefused(logger, tokenId, error);
        return EnrollmentOutcome.Refused(kind, error);
    }
}
