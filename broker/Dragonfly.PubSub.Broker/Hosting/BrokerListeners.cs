using System.Net;
using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MQTTnet.AspNetCore;

namespace Dragonfly.PubSub.Broker.Hosting;

/// <summary>
/// The broker's Kestrel listeners. Secure (default): MQTT over TLS on --mqtts-port and gRPC over
/// HTTPS/2, both requiring a fleet client certificate; the HTTP API on HTTPS with the certificate
/// optional. --insecure: plain MQTT on --mqtt-port, h2c and HTTP, as before. Always: the admin unix
/// socket &lt;data-dir&gt;/dfbroker.sock (mode 0600) for <c>dfbroker token|cert</c>.
/// </summary>
internal sealed class BrokerListeners(BrokerOptions options, BrokerTls? tls)
{
    private ListenOptions? _mqtt, _grpc, _http;

    public void Configure(KestrelServerOptions kestrel)
    {
        var guard = tls is null ? null : new TlsListenerGuard(
            tls, kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Dragonfly.PubSub.Broker.Security.Tls"));
        if (options.MqttUrl is null)
        {
            // With --mqtt-url announcements go to that broker: no MQTT listener here.
            kestrel.Listen(options.Listen, tls is null ? options.MqttPort : options.MqttsPort, l =>
            {
                _mqtt = l;
                guard?.Apply(l, "mqtt", requireClientCertificate: true);
                l.Use(kestrel.ApplicationServices.GetRequiredService<MqttStartGate>().Hold);
                l.UseMqtt();
            });
        }
        kestrel.Listen(options.Listen, options.GrpcPort, l =>
        {
            _grpc = l;
            l.Protocols = HttpProtocols.Http2;
            guard?.Apply(l, "grpc", requireClientCertificate: true);
        });
        kestrel.Listen(options.Listen, options.HttpPort, l =>
        {
            _http = l;
            l.Protocols = HttpProtocols.Http1;
            guard?.Apply(l, "http", requireClientCertificate: false);
        });
        // A stale socket of a broker that did not stop cleanly (broker.db is ours by now, so no other broker uses it).
        File.Delete(options.AdminSocketPath);
        kestrel.ListenUnixSocket(options.AdminSocketPath, l => l.Protocols = HttpProtocols.Http1);
    }

    /// <summary>Only the broker's user may use the admin socket.</summary>
    public void SecureAdminSocket()
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(options.AdminSocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    public void Report(BoundPorts ports)
    {
        var mqtt = _mqtt?.IPEndPoint?.Port ?? 0;
        ports.Set(tls is null ? mqtt : 0, _grpc!.IPEndPoint!.Port, _http!.IPEndPoint!.Port);
        ports.SetTls(tls is not null, tls is null ? 0 : mqtt);
    }

    public void LogMode(ILogger logger)
    {
        if (tls is null)
        {
            BrokerLog.Insecure(logger, "MQTT, gRPC and HTTP are plain text and unauthenticated");
            BrokerLog.AnnouncementsUnsigned(logger);
            return;
        }
        var certificate = tls.Current.Certificate;
        var (dns, addresses) = BrokerTls.ServerNames(options);
        var names = options.Tls.CertFile is null ? string.Join(",", dns.Concat(addresses.Select(a => a.ToString()))) : certificate.Subject;
        BrokerLog.TlsReady(logger, tls.Ca?.Certificate.Subject ?? tls.Trusted[0].Subject, tls.CaPin, names,
            certificate.NotAfter.ToUniversalTime(), options.Tls.Ciphers.Name);
        var signer = tls.AnnouncementSigner.Certificate;
        BrokerLog.AnnouncementsSigned(logger, PeerIdentity.FromCertificate(signer)?.PeerId ?? signer.Subject, signer.Thumbprint, signer.NotAfter.ToUniversalTime());
    }
}
