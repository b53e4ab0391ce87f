using System.Globalization;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Tests.Support;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Security;

/// <summary>openssl s_client (Debian) against the broker's HTTPS port shows the suite each --tls-ciphers choice negotiates.</summary>
public sealed class CipherChoiceTests
{
    [Theory]
    [InlineData("aes-128-gcm", "TLS_AES_128_GCM_SHA256")]
    [InlineData("aes-256-gcm", "TLS_AES_256_GCM_SHA384")]
    [InlineData("chacha20-poly1305", "TLS_CHACHA20_POLY1305_SHA256")]
    [InlineData("default", "TLS_AES_128_GCM_SHA256")]
    public async Task OpensslSClient_NegotiatesTheChosenSuite_AndNoOther(string choice, string expected)
    {
        Assert.True(TlsCiphers.TryParse(choice, out var ciphers, out _));
        await using var broker = await InProcessBroker.StartAsync("cipher", seed: false, secure: true,
            adjust: o => o with { Tls = o.Tls with { Ciphers = ciphers } });
        var port = broker.ReadyInfo.GetProperty("httpPort").GetInt32().ToString(CultureInfo.InvariantCulture);
        var ca = Path.Combine(broker.DataDir, "tls", "ca.crt");

        // The client offers all three; the server's policy decides.
        var offered = await SClientAsync(port, ca, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
        Assert.Contains("Protocol version: TLSv1.3", offered.Output);
        Assert.Contains($"Ciphersuite: {expected}", offered.Output);
        Assert.Contains("Verification: OK", offered.Output);

        // A client offering only suites outside the choice gets no connection.
        var others = string.Join(':', new[] { "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256" }
            .Where(s => !ciphers.Suites.Select(x => x.ToString()).Contains(s)));
        if (others.Length > 0)
        {
            var refused = await SClientAsync(port, ca, others);
            Assert.DoesNotContain("Ciphersuite: TLS_", refused.Output);
            Assert.Contains("handshake failure", refused.Output);
        }
    }

    private static Task<ProcessResult> SClientAsync(string port, string ca, string suites) =>
        ProcessRunner.RunAsync("openssl", ["s_client", "-connect", $"127.0.0.1:{port}", "-tls1_3", "-ciphersuites", suites, "-CAfile", ca, "-brief", "-verify_return_error"],
            timeout: TimeSpan.FromSeconds(30));
}
