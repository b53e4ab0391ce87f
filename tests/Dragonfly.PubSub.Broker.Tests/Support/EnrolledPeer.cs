using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Tests.Support;

/// <summary>
/// A peer that enrolled with a real broker over HTTPS (POST /api/v1/enroll, as dfagent does): its key
/// never left this process; its certificate, key and the CA are also written as PEM files for
/// mosquitto and openssl.
/// </summary>
public sealed class EnrolledPeer : IDisposable
{
    private EnrolledPeer(string peerId, X509Certificate2 certificate, ECDsa key, string directory, TlsIdentity identity)
    {
        PeerId = peerId;
        Certificate = certificate;
        Key = key;
        CertFile = Path.Combine(directory, peerId + ".crt");
        KeyFile = Path.Combine(directory, peerId + ".key");
        CaFile = Path.Combine(directory, "ca.crt");
        Identity = identity;
    }

    public string PeerId { get; }
    public X509Certificate2 Certificate { get; }
    public ECDsa Key { get; }
    public string CertFile { get; }
    public string KeyFile { get; }
    public string CaFile { get; }

    /// <summary>For SslStream/HttpClient/gRPC: this certificate, trusting only the fleet CA.</summary>
    public TlsIdentity Identity { get; }

    /// <summary>A CSR for a new key; its subject asks for a name the broker must ignore.</summary>
    public static string NewCsr(ECDsa key) =>
        new CertificateRequest("CN=i-choose-my-own-name", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();

    public static async Task<EnrolledPeer> EnrollAsync(InProcessBroker broker, string token, string directory)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var response = await broker.Http.PostAsJsonAsync("api/v1/enroll", new Dictionary<string, string> { ["token"] = token, ["csr"] = NewCsr(key) });
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"enrolment failed: {(int)response.StatusCode} {body}");
        }
        using var json = JsonDocument.Parse(body);
        return FromResponse(json.RootElement, key, directory);
    }

    public static EnrolledPeer FromResponse(JsonElement response, ECDsa key, string directory)
    {
        var certificatePem = response.GetProperty("certificate").GetString()!;
        var caPem = response.GetProperty("caCertificate").GetString()!;
        using var publicOnly = X509Certificate2.CreateFromPem(certificatePem);
        using var withKey = publicOnly.CopyWithPrivateKey(key);
        var certificate = TlsFiles.Usable(withKey);
        var peer = new EnrolledPeer(response.GetProperty("peerId").GetString()!, certificate, key, directory,
            new TlsIdentity([X509Certificate2.CreateFromPem(caPem)], certificate, TlsCiphers.Default));
        File.WriteAllText(peer.CertFile, certificatePem);
        File.WriteAllText(peer.KeyFile, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(peer.CaFile, caPem);
        return peer;
    }

    /// <summary>An HTTPS client presenting this certificate to the broker's HTTP API.</summary>
    public HttpClient HttpClient(Uri baseAddress) => new(new SocketsHttpHandler { SslOptions = Identity.ClientOptions(baseAddress.Host) })
    {
        BaseAddress = baseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

    public void Dispose()
    {
        Certificate.Dispose();
        Key.Dispose();
    }
}
