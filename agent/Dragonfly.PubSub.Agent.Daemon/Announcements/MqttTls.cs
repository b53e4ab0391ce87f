using System.Security.Authentication;
using Dragonfly.PubSub.Agent.Hosting;
using MQTTnet;

namespace Dragonfly.PubSub.Agent.Announcements;

/// <summary>MQTT over TLS 1.3 with the agent's current certificate, trusting only the fleet CA.</summary>
internal static class MqttTls
{
    public static MqttClientTlsOptions For(AgentIdentity identity, string host) => new()
    {
        UseTls = true,
        TargetHost = host,
        SslProtocol = SslProtocols.Tls13,
        CipherSuitesPolicy = identity.Current.Ciphers.Policy(),
        RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
        ClientCertificatesProvider = new CurrentCertificate(identity),
        CertificateValidationHandler = e =>
            identity.Current.ClientOptions(host).RemoteCertificateValidationCallback!(e, e.Certificate, e.Chain, e.SslPolicyErrors),
    };

    private sealed class CurrentCertificate(AgentIdentity identity) : IMqttClientCertificatesProvider
    {
        public System.Security.Cryptography.X509Certificates.X509CertificateCollection GetCertificates() => [identity.Current.Certificate];
    }
}
