using System.Net;
using System.Net.Http.Headers;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, the broker's HTTP API on a real dfbroker listening on every address: from another address
/// than loopback the dashboard and every GET /api/v1 need an API token of scope read, preheat one of scope
/// preheat (within its topics); health, metrics and the CA stay public; a revoked or made-up token is refused;
/// the scheduler's port answers no HTTP API. From loopback the reads stay open.
/// </summary>
public sealed class HttpApiAccessTests(ITestOutputHelper output)
{
    [Fact]
    public Task ApiFromAnotherAddress_NeedsATokenWithTheRightScope_LoopbackReadsStayOpen() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no identities, the HTTP API is open (README, Security model)");
            return;
        }
        if (NonLoopbackAddress() is not { } address)
        {
            output.WriteLine("this machine has no non-loopback IPv4 address to call the broker from; nothing to check");
            return;
        }
        var broker = await cluster.StartBrokerAsync(extraArgs: ["--listen", "0.0.0.0"]);
        using var remote = Client(broker, new Uri($"https://{address}:{broker.Ports.Http}/"));
        using var local = Client(broker, new Uri($"https://127.0.0.1:{broker.Ports.Http}/"));
        cluster.Log($"calling the broker from {address}");

        // Without a token: public paths answer, reads and the dashboard are 401 with one line saying what to do.
        foreach (var open in new[] { "healthz", "metrics", "api/v1/ca" })
        {
            using var response = await remote.GetAsync(open);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /{open} from {address} answered {(int)response.StatusCode}");
        }
        foreach (var read in new[] { "api/v1/tasks", "api/v1/status", "api/v1/preheat", "" })
        {
            var (status, error) = await SendAsync(remote, HttpMethod.Get, read, token: null);
            Assert.True(status == HttpStatusCode.Unauthorized, $"GET /{read} from {address} without a token answered {(int)status}");
            Assert.Contains("dfbroker token create --scope read", error, StringComparison.Ordinal);
            var (localStatus, _) = await SendAsync(local, HttpMethod.Get, read, token: null);
            Assert.True(localStatus == HttpStatusCode.OK, $"GET /{read} from loopback answered {(int)localStatus}");
        }

        // A read token reads, but may not preheat; a made-up token is refused.
        var reader = await CreateTokenAsync(cluster, broker, "read");
        Assert.StartsWith("dfa1.", reader, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(remote, HttpMethod.Get, "api/v1/tasks", reader)).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(remote, HttpMethod.Get, "", reader)).Status);
        var (readerPreheat, readerError) = await SendAsync(remote, HttpMethod.Post, "api/v1/preheat", reader, Preheat("images/app"));
        Assert.True(readerPreheat == HttpStatusCode.Forbidden, $"a read token's preheat answered {(int)readerPreheat}: {readerError}");
        Assert.Contains("not preheat", readerError, StringComparison.Ordinal);
        var madeUp = "dfa1." + reader.Split('.')[1] + "." + new string('A', 43);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(remote, HttpMethod.Get, "api/v1/tasks", madeUp)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(remote, HttpMethod.Get, "api/v1/tasks", "not-a-token")).Status);
        // Anonymous preheat from anywhere, loopback included, needs a certificate or a token.
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(local, HttpMethod.Post, "api/v1/preheat", null, Preheat("images/app"))).Status);

        // A preheat token within its topics passes the gate (the job then fails on the unreachable registry, not on access).
        var preheater = await CreateTokenAsync(cluster, broker, "preheat", "--topics", "images/#");
        var (outside, outsideError) = await SendAsync(remote, HttpMethod.Post, "api/v1/preheat", preheater, Preheat("releases/app"));
        Assert.True(outside == HttpStatusCode.Forbidden, $"a preheat token for images/# preheating onto releases/app answered {(int)outside}: {outsideError}");
        var (inside, insideError) = await SendAsync(remote, HttpMethod.Post, "api/v1/preheat", preheater, Preheat("images/app"));
        Assert.True(inside is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden), $"a preheat token within its topics was refused: {(int)inside} {insideError}");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(remote, HttpMethod.Get, "api/v1/preheat", preheater)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(remote, HttpMethod.Get, "api/v1/tasks", preheater)).Status);

        // Revoked: refused from then on.
        var revoke = await cluster.RunCliAsync("dfbroker", ["token", "revoke", reader.Split('.')[1], "--data-dir", broker.DataDir]);
        Assert.True(revoke.ExitCode == 0, $"dfbroker token revoke failed:\n{revoke}");
        var (revoked, revokedError) = await SendAsync(remote, HttpMethod.Get, "api/v1/tasks", reader);
        Assert.True(revoked == HttpStatusCode.Unauthorized, $"a revoked token answered {(int)revoked}");
        Assert.Contains("revoked", revokedError, StringComparison.Ordinal);

        // The scheduler's port (client certificate required) serves gRPC only, not the API.
        using (var grpcPort = new HttpClient(TestTls.Handler(broker)) { BaseAddress = new Uri($"https://127.0.0.1:{broker.Ports.Grpc}/"), DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact })
        {
            using var response = await grpcPort.GetAsync("api/v1/tasks");
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"GET /api/v1/tasks on the scheduler's port answered {(int)response.StatusCode}");
        }
        Assert.True((await broker.GetMetricsAsync()).Find("dragonfly_broker_permission_denied_total", ("listener", "http")) >= 3,
            "the broker should count the refused token requests in dragonfly_broker_permission_denied_total{listener=\"http\"}");
    });

    private static StringContent Preheat(string topic) => new(
        JsonSerializer.Serialize(new { image = "127.0.0.1:9/none/app:1", platforms = new[] { "linux/amd64" }, topic }), Encoding.UTF8, "application/json");

    private static async Task<(HttpStatusCode Status, string Error)> SendAsync(HttpClient client, HttpMethod method, string path, string? token, HttpContent? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var error = "";
        if (!response.IsSuccessStatusCode && text.StartsWith('{'))
        {
            using var json = JsonDocument.Parse(text);
            error = json.RootElement.TryGetProperty("error", out var e) ? e.GetString() ?? "" : text;
        }
        return (response.StatusCode, error);
    }

    private static async Task<string> CreateTokenAsync(TestCluster cluster, BrokerProcess broker, string scope, params string[] extraArgs)
    {
        var result = await cluster.RunCliAsync("dfbroker", ["token", "create", "--scope", scope, "--data-dir", broker.DataDir, .. extraArgs]);
        Assert.True(result.ExitCode == 0, $"dfbroker token create --scope {scope} failed:\n{result}");
        return result.LastStdoutLine;
    }

    /// <summary>An HTTPS client that trusts the broker's CA and presents no client certificate.</summary>
    private static HttpClient Client(BrokerProcess broker, Uri baseAddress) => new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(10),
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is X509Certificate2 leaf && TestTls.ChainsToCa(leaf, broker.CaFile) },
    })
    { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>An IPv4 address of this machine that is not loopback (the broker sees calls to it as from that address).</summary>
    private static IPAddress? NonLoopbackAddress() => NetworkInterface.GetAllNetworkInterfaces()
        .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
        .SelectMany(n => n.GetIPProperties().UnicastAddresses)
        .Select(a => a.Address)
        .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a) && !a.ToString().StartsWith("169.254.", StringComparison.Ordinal));
}
