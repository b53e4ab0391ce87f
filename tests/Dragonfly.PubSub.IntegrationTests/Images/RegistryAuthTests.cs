using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// A registry with basic auth (htpasswd, bcrypt): the broker preheats with the login of its config
/// file; pulls through an agent's mirror work with the client's credentials and fail clearly
/// without them, also for blobs the agent already holds; the password is in no log and no data dir.
/// </summary>
public sealed class RegistryAuthTests(ITestOutputHelper output)
{
    private const string User = "puller";

    [Fact]
    public Task BasicAuthRegistry_PreheatWithBrokerLogin_MirrorPullsNeedClientCredentials_PasswordNeverStored() => TestCluster.RunAsync(output, async cluster =>
    {
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var pushed = await PushedImage.StartAsync(cluster, seed: 411, layerBytes: (int)MiB, (User, password));
        var registry = pushed.Registry;

        // The login lives in a config file outside the broker's data dir (what an operator would do).
        var configDir = Directory.CreateDirectory(Path.Combine(cluster.Root, "secrets")).FullName;
        var config = Path.Combine(configDir, "dfbroker.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["registries"] = new Dictionary<string, object> { [registry.Name] = new Dictionary<string, string> { ["username"] = User, ["password"] = password } },
        }));
        await cluster.StartBrokerAsync(extraArgs: ["--config", config]);
        string[] mirror = ["--registry-mirror", registry.BaseUri.GetLeftPart(UriPartial.Authority)];
        var agents = await Task.WhenAll(
            cluster.StartAgentAsync("a-1", [ImageSteps.Topic], ["--cluster", "a", .. mirror]),
            cluster.StartAgentAsync("b-1", [ImageSteps.Topic], ["--cluster", "b", .. mirror]));
        await Task.WhenAll(agents.Select(a => a.WaitUntilConnectedAsync()));

        // Preheat with the broker's login.
        var arm64 = pushed.Arm64.Blobs.Select(b => b.ToString()).ToList();
        var preheat = await cluster.PreheatAsync(pushed.Reference, "linux/arm64");
        Assert.True(preheat.ExitCode == 0, $"preheat from a registry with basic auth, the broker having its login, failed:\n{preheat}");
        Assert.True(ImageSteps.Job(preheat).GetProperty("state").GetString() == "succeeded", $"the job did not succeed:\n{preheat}");
        await Task.WhenAll(agents.Select(a => a.WaitForBlobsAsync(arm64, TimeSpan.FromSeconds(60))));
        foreach (var agent in agents)
        {
            await agent.AssertHoldsExactlyAsync(pushed, arm64);
        }

        var repository = $"{PushedImage.Repository}:{PushedImage.Tag}";
        // Without credentials: refused, and clearly (skopeo says why), also for the preheated platform.
        var anonymous = await cluster.PullThroughMirrorAsync(pushed, agents[0], repository, Path.Combine(cluster.Root, "pull-anonymous"), "arm64", credentials: null);
        Assert.True(anonymous.ExitCode != 0, $"a pull without credentials through the mirror of a registry with basic auth succeeded:\n{anonymous.Output}");
        cluster.Log($"skopeo without credentials: exit {anonymous.ExitCode}: {anonymous.Stderr.Trim()}");
        Assert.True(Mentions(anonymous.Stderr, "unauthorized", "authentication required", "credentials"),
            $"skopeo's error does not say that credentials are missing:\n{anonymous.Stderr}");
        var wrong = await cluster.PullThroughMirrorAsync(pushed, agents[0], repository, Path.Combine(cluster.Root, "pull-wrong"), "arm64", $"{User}:not-{password}");
        Assert.True(wrong.ExitCode != 0, $"a pull with a wrong password through the mirror succeeded:\n{wrong.Output}");
        cluster.Log($"skopeo with a wrong password: exit {wrong.ExitCode}: {wrong.Stderr.Trim()}");
        Assert.True(Mentions(wrong.Stderr, "unauthorized", "authentication required", "credentials"),
            $"skopeo's error does not say that the credentials were refused:\n{wrong.Stderr}");

        // A blob the agent holds (preheated) is not handed out without the registry's permission either.
        using (var direct = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            var blobUrl = $"http://127.0.0.1:{agents[0].ProxyPort}/v2/{PushedImage.Repository}/blobs/{pushed.Arm64.Layers[0]}";
            using var response = await direct.GetAsync(blobUrl);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized,
                $"GET {blobUrl} without credentials answered {(int)response.StatusCode}; a cached blob of a private registry must need the registry's permission (401)");
            using var request = new HttpRequestMessage(HttpMethod.Get, blobUrl);
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{password}")));
            using var allowed = await direct.SendAsync(request);
            Assert.True(allowed.StatusCode == HttpStatusCode.OK, $"GET {blobUrl} with the credentials answered {(int)allowed.StatusCode}");
        }

        // With credentials: the preheated arm64 from the cache, and amd64 (not preheated) through the swarm.
        var arm64Pull = await cluster.PullThroughMirrorAsync(pushed, agents[0], repository, Path.Combine(cluster.Root, "pull-arm64"), "arm64", pushed.Credentials);
        Assert.True(arm64Pull.ExitCode == 0, $"a pull of arm64 with --src-creds through the mirror failed:\n{arm64Pull.Output}");
        var amd64 = pushed.Amd64.Blobs.Select(b => b.ToString()).ToList();
        var amd64Directory = Path.Combine(cluster.Root, "pull-amd64");
        var amd64Pull = await cluster.PullThroughMirrorAsync(pushed, agents[1], repository, amd64Directory, "amd64", pushed.Credentials);
        Assert.True(amd64Pull.ExitCode == 0, $"a pull of amd64 (not preheated) with --src-creds through {agents[1].Name}'s mirror failed:\n{amd64Pull.Output}");
        var layout = ImageSteps.LayoutBlobs(amd64Directory);
        Assert.True(amd64.All(layout.Contains), $"the amd64 pull lacks blobs: has {string.Join(", ", layout.Select(pushed.Describe))}");
        await agents[1].AssertHoldsExactlyAsync(pushed, [.. arm64, .. amd64]);
        await agents[0].AssertHoldsExactlyAsync(pushed, arm64); // a pull is not announced to anyone

        // The password, plain or as a basic-auth header value, is in no log and no data dir; the
        // processes are stopped first so that the LiteDB files hold everything they would write.
        await ImageSteps.StopAllAsync(cluster, agents);
        var secrets = new[] { password, Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{password}")) };
        Assert.True(ImageSteps.FilesContaining([configDir], secrets).Count == 1, "the scan does not find the password in the broker's config file: it would miss leaks too");
        var leaks = ImageSteps.FilesContaining([cluster.Launcher.LogDir, cluster.Broker.DataDir, .. agents.Select(a => a.DataDir)], secrets);
        Assert.True(leaks.Count == 0, $"the registry password is stored in: {string.Join(", ", leaks)}");
        foreach (var process in cluster.Launcher.Processes)
        {
            Assert.DoesNotContain(password, process.CommandLine, StringComparison.Ordinal);
        }
    }, TimeSpan.FromMinutes(2));

    [Fact]
    public Task BasicAuthRegistry_BrokerWithoutLogin_PreheatRefusedClearly_WithEnvironmentLogin_Succeeds() => TestCluster.RunAsync(output, async cluster =>
    {
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var pushed = await PushedImage.StartAsync(cluster, seed: 412, layerBytes: (int)MiB / 4, (User, password));

        // No login for the registry: refused at once, one line that says what to configure.
        var broker = await cluster.StartBrokerAsync();
        var refused = await cluster.PreheatAsync(pushed.Reference, "linux/arm64");
        CommandLine.CliAssert.FailedWithOneLine(refused, 1);
        Assert.True(refused.Stderr.Contains("DFBROKER_REGISTRY_USERNAME", StringComparison.Ordinal) || refused.Stderr.Contains("registries", StringComparison.Ordinal),
            $"the error does not say how to give the broker a login:\n{refused}");
        Assert.True((await broker.PreheatJobsAsync()).Count == 0, "a refused preheat left a job behind");
        await broker.Process.StopAsync();

        // The login from the environment (DFBROKER_REGISTRY_USERNAME/PASSWORD): the same preheat succeeds.
        cluster.Launcher.SetEnvironment("DFBROKER_REGISTRY_USERNAME", User);
        cluster.Launcher.SetEnvironment("DFBROKER_REGISTRY_PASSWORD", password);
        broker = await cluster.RestartBrokerAsync();
        var preheat = await cluster.PreheatAsync(pushed.Reference, "linux/arm64");
        Assert.True(preheat.ExitCode == 0, $"preheat with the broker's login from the environment failed:\n{preheat}");
        var blobs = ImageSteps.Blobs(ImageSteps.Job(preheat));
        Assert.True(blobs.Count == 3 && blobs.All(b => b.State == "succeeded"), $"the job's blobs did not all succeed:\n{preheat}");

        await ImageSteps.StopAllAsync(cluster, []);
        var secrets = new[] { password, Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{password}")) };
        var leaks = ImageSteps.FilesContaining([cluster.Launcher.LogDir, broker.DataDir], secrets);
        Assert.True(leaks.Count == 0, $"the registry password is stored in: {string.Join(", ", leaks)}");
    });

    private static bool Mentions(string text, params string[] words) =>
        words.Any(w => text.Contains(w, StringComparison.OrdinalIgnoreCase));
}
