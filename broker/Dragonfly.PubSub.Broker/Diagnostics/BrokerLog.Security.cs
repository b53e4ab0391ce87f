using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Diagnostics;

/// <summary>Identity and TLS messages (issue 9), event ids 1100-1149.</summary>
internal static partial class BrokerLog
{
    [LoggerMessage(1100, LogLevel.Warning, "running WITHOUT TLS: {What} (--insecure); anyone who reaches these ports can read and inject traffic")]
    public static partial void Insecure(ILogger logger, string what);

    [LoggerMessage(1101, LogLevel.Information, "TLS on: CA {Ca} (pin {Pin}), server certificate for {Names} valid until {NotAfter:O}, ciphers {Ciphers}")]
    public static partial void TlsReady(ILogger logger, string ca, string pin, string names, DateTime notAfter, string ciphers);

    [LoggerMessage(1102, LogLevel.Information, "certificate {What}: peer {PeerId} role {Role} topics [{Topics}] token {TokenId} serial {Serial} until {NotAfter:O}")]
    public static partial void CertificateIssued(ILogger logger, string what, string peerId, string role, string topics, string tokenId, string serial, DateTimeOffset notAfter);

    [LoggerMessage(1103, LogLevel.Warning, "enrolment refused (token {TokenId}): {Reason}")]
    public static partial void EnrollmentRefused(ILogger logger, string tokenId, string reason);

    [LoggerMessage(1104, LogLevel.Information, "join token {TokenId} created: role {Role}, topics [{Topics}], {Uses} use(s), expires {ExpiresAt:O}")]
    public static partial void TokenCreated(ILogger logger, string tokenId, string role, string topics, int uses, DateTimeOffset expiresAt);

    [LoggerMessage(1105, LogLevel.Warning, "join token {TokenId} revoked; peers enrolled with it revoked too: [{Peers}]")]
    public static partial void TokenRevoked(ILogger logger, string tokenId, string peers);

    [LoggerMessage(1106, LogLevel.Warning, "peer {PeerId} revoked: closed {MqttSessions} MQTT session(s) and {Streams} scheduler stream(s)")]
    public static partial void PeerRevoked(ILogger logger, string peerId, int mqttSessions, int streams);

    [LoggerMessage(1107, LogLevel.Warning, "MQTT client refused: {Reason}")]
    public static partial void MqttClientRefused(ILogger logger, string reason);

    [LoggerMessage(1108, LogLevel.Warning, "scheduler stream refused: {Reason}")]
    public static partial void SchedulerIdentityRefused(ILogger logger, string reason);

    [LoggerMessage(1109, LogLevel.Warning, "TLS handshake failed on the {Listener} listener from {Remote}: {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, string listener, string remote, string reason);

    [LoggerMessage(1110, LogLevel.Information, "server certificate re-issued, valid until {NotAfter:O}")]
    public static partial void ServerCertificateRenewed(ILogger logger, DateTime notAfter);

    [LoggerMessage(1111, LogLevel.Warning, "request refused: {Reason}")]
    public static partial void ClientCertificateRefused(ILogger logger, string reason);

    [LoggerMessage(1113, LogLevel.Warning, "MQTT permission denied: {Reason}")]
    public static partial void MqttPermissionDenied(ILogger logger, string reason);

    [LoggerMessage(1114, LogLevel.Warning, "scheduler permission denied: {Reason}")]
    public static partial void SchedulerPermissionDenied(ILogger logger, string reason);

    [LoggerMessage(1115, LogLevel.Information, "announcements are signed by {Signer} (certificate {Thumbprint}, valid until {NotAfter:O}); agents check it against the fleet CA")]
    public static partial void AnnouncementsSigned(ILogger logger, string signer, string thumbprint, DateTime notAfter);

    [LoggerMessage(1116, LogLevel.Warning, "announcements are NOT signed (--insecure): agents order them by sequence number but cannot tell the broker's from anyone else's")]
    public static partial void AnnouncementsUnsigned(ILogger logger);

    [LoggerMessage(1130, LogLevel.Warning, "ended the scheduler session of {PeerId}: {Reason}; it may reconnect")]
    public static partial void SessionDropped(ILogger logger, string peerId, string reason);

    [LoggerMessage(1131, LogLevel.Warning, "refused peer {PeerId} a place in task {Digest}: {Reason}")]
    public static partial void JoinRefused(ILogger logger, string peerId, string digest, string reason);

    [LoggerMessage(1112, LogLevel.Error, "revocation of peer {PeerId} recorded, but cutting its live sessions failed")]
    public static partial void RevocationEnforcementFailed(ILogger logger, string peerId, Exception exception);
}
