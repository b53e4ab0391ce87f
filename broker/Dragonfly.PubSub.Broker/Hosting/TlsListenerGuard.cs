using System.Net.Security;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Hosting;

/// <summary>
/// Puts TLS on a Kestrel listener with the broker's current identity, and says in the broker's log why
/// a connection did not get through: a plaintext client (its first byte is not a TLS handshake record),
/// a missing, foreign or revoked certificate. Kestrel itself logs these only at debug level.
/// </summary>
internal sealed class TlsListenerGuard(BrokerTls tls, ILogger logger)
{
    private const byte TlsHandshakeRecord = 0x16;
    private static readonly object FailureKey = new();
    private static readonly object AcceptedKey = new();

    public void Apply(ListenOptions listen, string name, bool requireClientCertificate)
    {
        listen.Use(next => connection => GuardAsync(connection, next, name, requireClientCertificate));
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = context => ValueTask.FromResult(Options(context.Connection, requireClientCertificate)),
            HandshakeTimeout = TimeSpan.FromSeconds(10),
        });
    }

    private SslServerAuthenticationOptions Options(ConnectionContext connection, bool requireClientCertificate)
    {
        var options = tls.ServerOptions(requireClientCertificate);
        options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            if (certificate is null)
            {
                if (requireClientCertificate)
                {
                    connection.Items[FailureKey] = "no client certificate presented (this listener requires one of the fleet CA)";
                }
                return !requireClientCertificate;
            }
            var check = tls.Current.Check(certificate);
            connection.Items[check.Ok ? AcceptedKey : FailureKey] = check.Failure ?? "";
            return check.Ok;
        };
        return options;
    }

    private async Task GuardAsync(ConnectionContext connection, ConnectionDelegate next, string name, bool requireClientCertificate)
    {
        var remote = connection.RemoteEndPoint?.ToString() ?? "?";
        byte first;
        try
        {
            // Peek at the first byte without consuming it: the TLS middleware reads it again.
            var read = await connection.Transport.Input.ReadAsync(connection.ConnectionClosed).ConfigureAwait(false);
            first = read.Buffer.IsEmpty ? (byte)0 : read.Buffer.FirstSpan[0];
            connection.Transport.Input.AdvanceTo(read.Buffer.Start);
            if (read.Buffer.IsEmpty)
            {
                return;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException)
        {
            return;
        }
        if (first != TlsHandshakeRecord)
        {
            Refused(name, remote, $"a plaintext client (first byte 0x{first:x2}, not a TLS handshake) on a TLS port; it must connect with TLS and a client certificate, or both sides must run with --insecure");
            return;
        }
        await next(connection).ConfigureAwait(false);
        // Kestrel sets its TLS features before the handshake, so success is what the certificate check recorded.
        if (connection.Items.TryGetValue(FailureKey, out var failure) && failure is string reason)
        {
            Refused(name, remote, reason);
        }
        else if (requireClientCertificate && !connection.Items.ContainsKey(AcceptedKey))
        {
            Refused(name, remote, "the TLS handshake did not complete (client does not trust the fleet CA, no TLS 1.3, no common cipher, no client certificate, or timeout)");
        }
    }

    private void Refused(string name, string remote, string reason)
    {
        BrokerLog.HandshakeFailed(logger, name, remote, reason);
        SecurityMetrics.Refused.WithLabels(name).Inc();
    }
}
