using Dragonfly.PubSub.Broker.Diagnostics;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Secure-mode MQTT CONNECT check: the TLS listener already required a valid fleet certificate, and
/// here the client id must be that certificate's peer id, so no one can take over another peer's
/// session by reusing its id. The peer is checked against the revocation list again (it may have been
/// revoked between its handshake and its CONNECT). No id is ever assigned in secure mode.
/// </summary>
public sealed class MqttIdentityCheck(BrokerTls tls, MqttPermissions permissions, ILogger<MqttIdentityCheck> logger)
{
    /// <summary>The broker's own injected messages use this id; no client may claim it.</summary>
    private const string BrokerClientId = Announcing.AnnouncementPublisher.SenderClientId;

    public Task ValidateAsync(ValidatingConnectionEventArgs connection)
    {
        var certificate = connection.ChannelAdapter.ClientCertificate;
        if (certificate is null)
        {
            return Refuse(connection, MqttConnectReasonCode.NotAuthorized, $"client '{connection.ClientId}' presented no client certificate");
        }
        var check = tls.Check(certificate);
        if (check.Peer is not { } peer)
        {
            return Refuse(connection, MqttConnectReasonCode.NotAuthorized, $"client '{connection.ClientId}': {check.Failure}");
        }
        if (connection.ClientId != peer.PeerId || peer.PeerId == BrokerClientId)
        {
            return Refuse(connection, MqttConnectReasonCode.ClientIdentifierNotValid,
                $"client id '{connection.ClientId}' is not the peer id '{peer.PeerId}' of its certificate (the MQTT client id must equal the certificate's CN)");
        }
        permissions.Remember(peer);
        return Task.CompletedTask;
    }

    private Task Refuse(ValidatingConnectionEventArgs connection, MqttConnectReasonCode code, string reason)
    {
        connection.ReasonCode = code;
        BrokerLog.MqttClientRefused(logger, reason);
        SecurityMetrics.Refused.WithLabels("mqtt").Inc();
        return Task.CompletedTask;
    }
}
