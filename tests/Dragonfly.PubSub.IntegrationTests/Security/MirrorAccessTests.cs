using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Dragonfly.PubSub.IntegrationTests.Images;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, attack 5, through a running dfagent's registry mirror in front of a real docker-registry with
/// Bearer token auth (its token service is the in-test <see cref="TokenServer"/>: Distribution issues no tokens):
/// a blob of the private repository that the agent already holds is not handed out for a made-up bearer, no
/// credentials, or another repository's name; <c>?ns=</c> does not turn the mirror into a fetch proxy for
/// another host; and an honest pull with credentials beside it finishes, verified by skopeo. Both modes (the
/// mirror checks credentials at the registry, not fleet identities).
/// </summary>
public sealed class MirrorAccessTests(ITestOutputHelper output)
{
    private const string User = "puller";

    [Fact]
    public Task PrivateBlob_ForABogusBearer_IsRefusedByTheRegistry_AndAnHonestPullFinishes() => TestCluster.RunAsync(output, async cluster =>
    {
        var password = "pw-" + Guid.NewGuid().ToString("N");
        await using var tokens = await TokenServer.StartAsync(new Dictionary<string, string> { [User] = password });
        var pushed = await PushedImage.StartBehindTokenServiceAsync(cluster, seed: 1141, layerBytes: (int)MiB, tokens, User, password);
        var registry = pushed.Registry;
        await cluster.StartBrokerAsync();
        var agent = await cluster.StartAgentAsync("puller", extraArgs: ["--registry-mirror", registry.BaseUri.GetLeftPart(UriPartial.Authority)]);
        var repository = $"{PushedImage.Repository}:{PushedImage.Tag}";

        // An honest pull with credentials: the mirror does the token dance for the client; the agent now holds the blobs.
        var first = await cluster.PullThroughMirrorAsync(pushed, agent, repository, Path.Combine(cluster.Root, "pull-arm64"), "arm64", pushed.Credentials);
        Assert.True(first.ExitCode == 0, $"a pull with credentials through the mirror of a token-auth registry failed:\n{first.Output}");
        var layer = pushed.Arm64.Layers[0];
        var layerGets = registry.BlobGets(layer);

        // The held blob, asked for without the registry's permission.
        using var victim = new TcpListener(IPAddress.Loopback, 0);
        victim.Start();
        var victimPort = ((IPEndPoint)victim.LocalEndpoint).Port;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{agent.ProxyPort}/"), Timeout = TimeSpan.FromSeconds(30) };
        var attempts = new (string What, string Path, AuthenticationHeaderValue? Auth, HttpStatusCode Expected)[]
        {
            ("a made-up bearer", $"v2/{PushedImage.Repository}/blobs/{layer}", new AuthenticationHeaderValue("Bearer", "x"), HttpStatusCode.Unauthorized),
            ("a forged JWT", $"v2/{PushedImage.Repository}/blobs/{layer}", new AuthenticationHeaderValue("Bearer", "eyJhbGciOiJub25lIn0.eyJhY2Nlc3MiOltdfQ."), HttpStatusCode.Unauthorized),
            ("no credentials", $"v2/{PushedImage.Repository}/blobs/{layer}", null, HttpStatusCode.Unauthorized),
            ("another repository's name", $"v2/apps/other/blobs/{layer}", new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pushed.Credentials!))), HttpStatusCode.NotFound),
            ("?ns= naming another host", $"v2/{PushedImage.Repository}/blobs/{layer}?ns=127.0.0.1:{victimPort}", new AuthenticationHeaderValue("Bearer", "x"), HttpStatusCode.Forbidden),
        };
        foreach (var (what, path, auth, expected) in attempts)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = auth;
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            cluster.Log($"mirror GET with {what}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 300)))}");
            Assert.True(response.StatusCode == expected, $"the held blob asked for with {what} answered {(int)response.StatusCode}, expected {(int)expected}");
            Assert.True(body.Length < 4096, $"the refusal for {what} carried {body.Length} bytes");
        }
        Assert.False(victim.Pending(), "the mirror connected to the host named by ?ns=");
        Assert.Equal(layerGets, registry.BlobGets(layer)); // no blob left the registry for them
        Assert.DoesNotContain(tokens.Requests, r => r.Granted && r.User is null); // and the token service gave nobody anonymous access

        // The honest pull of the other platform beside them finishes (its blobs through the swarm), verified by skopeo.
        var second = await cluster.PullThroughMirrorAsync(pushed, agent, repository, Path.Combine(cluster.Root, "pull-amd64"), "amd64", pushed.Credentials);
        Assert.True(second.ExitCode == 0, $"the honest amd64 pull failed:\n{second.Output}");
        var layout = ImageSteps.LayoutBlobs(Path.Combine(cluster.Root, "pull-amd64"));
        Assert.True(pushed.Amd64.Blobs.All(b => layout.Contains(b.ToString())), "the amd64 pull lacks blobs");
        var outputs = Directory.Exists(agent.OutputDir) ? Directory.GetFiles(agent.OutputDir, "*", SearchOption.AllDirectories) : [];
        Assert.Empty(outputs);
    }, TimeSpan.FromMinutes(2));
}
