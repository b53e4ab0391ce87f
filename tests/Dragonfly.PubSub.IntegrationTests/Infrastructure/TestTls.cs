using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>HTTP handlers for the test's own clients of the broker: trust only the broker's fleet CA, present the test's admin certificate.</summary>
public static class TestTls
{
    public static SocketsHttpHandler Handler(BrokerProcess broker)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (TlsMode.Insecure)
        {
            return handler;
        }
        handler.SslOptions = new SslClientAuthenticationOptions
        {
            // The test identity may be made after the broker started (it enrols with it): pick it per handshake.
            LocalCertificateSelectionCallback = (_, _, _, _, _) => broker.Fleet?.Identity.Certificate!,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is X509Certificate2 leaf && ChainsToCa(leaf, broker.CaFile),
        };
        return handler;
    }

    public static bool ChainsToCa(X509Certificate2 leaf, string caFile)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(TlsFiles.LoadCertificates(caFile));
        return chain.Build(leaf);
    }
}
