using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Tests.Support;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Security;

/// <summary>Enrolment, renewal and revocation over real HTTPS against a secure in-process broker.</summary>
public sealed class EnrollmentApiTests : IAsyncLifetime
{
    private InProcessBroker _broker = null!;
    private string _files = null!;

    public async Task InitializeAsync()
    {
        _files = Directory.CreateTempSubdirectory("dfenrol-").FullName;
        _broker = await InProcessBroker.StartAsync("enrol", seed: false, secure: true);
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        TempDirectory.Delete(_files);
    }

    [Fact]
    public async Task Enroll_ThenRenew_ThenRevoke_OverRealHttps()
    {
        var token = await BrokerCommand.CreateTokenAsync(_broker.DataDir, "publisher", 1, "--topics", "images/#", "--topics", "a/+/c");
        using var peer = await EnrolledPeer.EnrollAsync(_broker, token, _files);

        Assert.Matches("^publisher-[0-9a-f]{12}$", peer.PeerId);
        Assert.Equal(new PeerIdentity(peer.PeerId, PeerRole.Publisher, ["images/#", "a/+/c"]), PeerIdentity.FromCertificate(peer.Certificate));
        Assert.Equal(JoinToken.PinOf(peer.Identity.TrustedCas[0]), token.Split('.')[3]);

        using var client = peer.HttpClient(_broker.Http.BaseAddress!);
        var newKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var renewed = await client.PostAsJsonAsync("api/v1/renew", new Dictionary<string, string> { ["csr"] = EnrolledPeer.NewCsr(newKey) });
        Assert.Equal(HttpStatusCode.OK, renewed.StatusCode);
        var body = await renewed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(peer.PeerId, body.GetProperty("peerId").GetString());
        Assert.Equal(["images/#", "a/+/c"], body.GetProperty("topics").EnumerateArray().Select(t => t.GetString()));
        using var renewedPeer = EnrolledPeer.FromResponse(body, newKey, _files);
        Assert.NotEqual(peer.Certificate.SerialNumber, renewedPeer.Certificate.SerialNumber);

        var revoke = await BrokerCommand.RunAsync("cert", "revoke", peer.PeerId, "--data-dir", _broker.DataDir);
        Assert.Equal((0, $"revoked peer {peer.PeerId}\n"), (revoke.ExitCode, revoke.Stdout));

        // Revoked: the next handshake presenting that certificate fails; a renewal is impossible.
        using var afterRevoke = peer.HttpClient(_broker.Http.BaseAddress!);
        await Assert.ThrowsAsync<HttpRequestException>(() => afterRevoke.PostAsJsonAsync("api/v1/renew", new Dictionary<string, string> { ["csr"] = EnrolledPeer.NewCsr(newKey) }));
    }

    [Fact]
    public async Task Enroll_TokenUsedUpOrMalformed_Is401WithOneLine()
    {
        var token = await BrokerCommand.CreateTokenAsync(_broker.DataDir, "agent", 2);
        using var first = await EnrolledPeer.EnrollAsync(_broker, token, _files);
        using var second = await EnrolledPeer.EnrollAsync(_broker, token, _files);
        Assert.NotEqual(first.PeerId, second.PeerId);

        var third = await EnrollAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, third.Status);
        Assert.Equal($"join token {token.Split('.')[1]} was already used 2 time(s) of 2; make a new one (--uses N lets one token enrol N peers)", third.Error);

        var wrongSecret = string.Join('.', token.Split('.') is var p ? [p[0], p[1], new string('A', 43), p[3]] : []);
        var bad = await EnrollAsync(wrongSecret);
        Assert.Equal(HttpStatusCode.Unauthorized, bad.Status);
        Assert.Equal($"join token {token.Split('.')[1]} is not known to this broker; make one with: dfbroker token create --role agent", bad.Error);

        var garbage = await EnrollAsync("hello");
        Assert.Equal(HttpStatusCode.Unauthorized, garbage.Status);
        Assert.DoesNotContain('\n', garbage.Error);
        Assert.StartsWith("not a join token", garbage.Error);
    }

    [Fact]
    public async Task RevokedToken_RefusesEnrolment_AndRevokesItsPeers()
    {
        var token = await BrokerCommand.CreateTokenAsync(_broker.DataDir, "agent", 3);
        using var enrolled = await EnrolledPeer.EnrollAsync(_broker, token, _files);

        var revoke = await BrokerCommand.RunAsync("token", "revoke", token.Split('.')[1], "--data-dir", _broker.DataDir);

        Assert.Equal(0, revoke.ExitCode);
        Assert.Contains(enrolled.PeerId, revoke.Stdout);
        var refused = await EnrollAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Contains("was revoked", refused.Error);
    }

    [Fact]
    public async Task Preheat_NeedsAValidClientCertificate_WhileReadsNeedNone()
    {
        var anonymous = await _broker.Http.PostAsync("api/v1/preheat", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.StartsWith("this endpoint needs a client certificate", (await anonymous.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal("[]", await _broker.Http.GetStringAsync("api/v1/preheat"));
        var health = await _broker.Http.GetFromJsonAsync<JsonElement>("healthz");
        Assert.True(health.GetProperty("tls").GetBoolean());
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(_broker.DataDir, "tls", "ca.crt")), await _broker.Http.GetStringAsync("api/v1/ca"));

        using var peer = await EnrolledPeer.EnrollAsync(_broker, await BrokerCommand.CreateTokenAsync(_broker.DataDir, "publisher"), _files);
        using var client = peer.HttpClient(_broker.Http.BaseAddress!);
        var withCertificate = await client.PostAsync("api/v1/preheat", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        // Past the gate: now the body is judged.
        Assert.Equal(HttpStatusCode.BadRequest, withCertificate.StatusCode);
    }

    [Fact]
    public async Task Preheat_FromAnAgentCertificate_OrOntoATopicNotGranted_IsForbidden_AndNoJobStarts()
    {
        const string Body = """{"image": "127.0.0.1:9/team/app:1.0", "platforms": ["linux/amd64"], "topic": "images/app"}""";
        using var agent = await EnrolledPeer.EnrollAsync(_broker, await BrokerCommand.CreateTokenAsync(_broker.DataDir, "agent"), _files);
        using var scoped = await EnrolledPeer.EnrollAsync(_broker, await BrokerCommand.CreateTokenAsync(_broker.DataDir, "publisher", 1, "--topics", "releases/#"), _files);

        foreach (var (peer, expected) in new[] { (agent, "may not preheat; use a certificate of role admin or publisher"), (scoped, "may not preheat onto topic 'images/app'") })
        {
            using var client = peer.HttpClient(_broker.Http.BaseAddress!);
            var response = await client.PostAsync("api/v1/preheat", new StringContent(Body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains(expected, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal("[]", await _broker.Http.GetStringAsync("api/v1/preheat"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void AdminSocket_AndKeys_AreOwnerOnly()
    {
        const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(_broker.DataDir, "dfbroker.sock")));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(_broker.DataDir, "tls", "ca.key")));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(Path.Combine(_broker.DataDir, "tls", "broker.key")));
    }

    [Fact]
    public async Task AdminApi_IsNotReachableOverTheNetwork()
    {
        var response = await _broker.Http.PostAsync("admin/v1/peers/agent-x/revoke", null);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Enroll_WithABadCsr_DoesNotUseUpTheToken()
    {
        var token = await BrokerCommand.CreateTokenAsync(_broker.DataDir, "agent", 1);
        using var rsa = RSA.Create(2048);
        var rsaCsr = new CertificateRequest("CN=x", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequestPem();

        var refused = await _broker.Http.PostAsJsonAsync("api/v1/enroll", new Dictionary<string, string> { ["token"] = token, ["csr"] = rsaCsr });
        using var peer = await EnrolledPeer.EnrollAsync(_broker, token, _files);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Matches("^agent-[0-9a-f]{12}$", peer.PeerId);
    }

    [Fact]
    public async Task Renew_WithoutClientCertificate_Is401()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var response = await _broker.Http.PostAsJsonAsync("api/v1/renew", new Dictionary<string, string> { ["csr"] = EnrolledPeer.NewCsr(key) });

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("renewal needs the current client certificate", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
    }

    private async Task<(HttpStatusCode Status, string Error)> EnrollAsync(string token)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var response = await _broker.Http.PostAsJsonAsync("api/v1/enroll", new Dictionary<string, string> { ["token"] = token, ["csr"] = EnrolledPeer.NewCsr(key) });
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!);
    }
}
