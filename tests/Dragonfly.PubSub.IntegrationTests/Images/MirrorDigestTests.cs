using System.Net;
using System.Security.Cryptography;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// Pulls by digest through an agent's registry mirror where the digest is wrong: one the registry
/// does not know (random, or a blob's digest used as a manifest's) fails as unknown; a manifest
/// whose bytes do not hash to the digest asked for (a lying front before the registry) is refused
/// by the mirror itself. Either way the pull fails clearly and the agent caches nothing.
/// </summary>
public sealed class MirrorDigestTests(ITestOutputHelper output)
{
    [Fact]
    public Task MirrorPullByWrongDigest_FailsClearly_ManifestNotMatchingItsDigestIsRefusedByTheMirror_NothingCached() => TestCluster.RunAsync(output, async cluster =>
    {
        var pushed = await PushedImage.StartAsync(cluster, seed: 431, layerBytes: (int)MiB / 4);
        var registry = pushed.Registry;
        var amd64Manifest = pushed.Amd64.ManifestDigest.ToString();
        await using var front = await LyingRegistryFront.StartAsync(
            registry.BaseUri, $"/v2/{PushedImage.Repository}/manifests/{amd64Manifest}", pushed.Arm64.Manifest, TestImage.OciManifest);
        await cluster.StartBrokerAsync();
        var honest = await cluster.StartAgentAsync("honest", extraArgs: ["--registry-mirror", registry.BaseUri.GetLeftPart(UriPartial.Authority)]);
        var lied = await cluster.StartAgentAsync("lied-to", extraArgs: ["--registry-mirror", front.BaseUri.GetLeftPart(UriPartial.Authority)]);
        AgentProcess[] agents = [honest, lied];
        var mark = registry.Requests().Count;

        // A digest the registry has no manifest for: unknown, and skopeo says so.
        var random = "sha256:" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var unknown = await cluster.PullThroughMirrorAsync(pushed, honest, $"{PushedImage.Repository}@{random}", Path.Combine(cluster.Root, "pull-random"), "arm64", null);
        cluster.Log($"skopeo pull by a random digest: exit {unknown.ExitCode}: {unknown.Stderr.Trim()}");
        Assert.True(unknown.ExitCode != 0, $"a pull of {PushedImage.Repository}@{random} (no such manifest) succeeded:\n{unknown.Output}");
        Assert.True(unknown.Stderr.Contains("manifest unknown", StringComparison.OrdinalIgnoreCase),
            $"skopeo's error does not say that the manifest is unknown:\n{unknown.Stderr}");
        await ImageSteps.AssertNothingCachedAsync(agents, $"a pull of the random digest {random}");

        // The digest of an existing blob asked for as a manifest: Distribution fails on it (500); the
        // pull fails, the mirror's answer names the registry that failed, nothing is cached.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var config = pushed.Arm64.Config.ToString();
        var blobAsManifest = await cluster.PullThroughMirrorAsync(pushed, honest, $"{PushedImage.Repository}@{config}", Path.Combine(cluster.Root, "pull-config"), "arm64", null);
        cluster.Log($"skopeo pull by a blob's digest: exit {blobAsManifest.ExitCode}: {blobAsManifest.Stderr.Trim()}");
        Assert.True(blobAsManifest.ExitCode != 0, $"a pull of {PushedImage.Repository}@{config} (a config blob, not a manifest) succeeded:\n{blobAsManifest.Output}");
        var configUrl = $"http://127.0.0.1:{honest.ProxyPort}/v2/{PushedImage.Repository}/manifests/{config}";
        using (var response = await http.GetAsync(configUrl))
        {
            var body = await response.Content.ReadAsStringAsync();
            cluster.Log($"GET {configUrl} -> {(int)response.StatusCode}: {body}");
            Assert.False(response.IsSuccessStatusCode, $"the mirror served a config blob as a manifest: {body}");
            Assert.True(body.Contains(registry.Name, StringComparison.Ordinal), $"the mirror's error does not name the registry: {(int)response.StatusCode} {body}");
        }
        await ImageSteps.AssertNothingCachedAsync(agents, $"a pull of the blob digest {config} as a manifest");

        // A manifest whose bytes are not what its digest names: the mirror checks and refuses (the
        // client would notice too; the mirror must not serve or cache it), every time it is asked.
        ProcessResult? liedPull = null;
        var manifestUrl = $"http://127.0.0.1:{lied.ProxyPort}/v2/{PushedImage.Repository}/manifests/{amd64Manifest}";
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            var lies = front.Lies;
            using var request = new HttpRequestMessage(HttpMethod.Get, manifestUrl);
            request.Headers.Accept.ParseAdd(TestImage.OciManifest);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            cluster.Log($"GET {manifestUrl} (attempt {attempt}) -> {(int)response.StatusCode}: {body}");
            Assert.True(front.Lies > lies, $"attempt {attempt}: the mirror did not ask upstream again (a refused manifest must not be cached)");
            Assert.False(response.IsSuccessStatusCode, $"the mirror served a manifest that does not hash to {amd64Manifest}: {(int)response.StatusCode} {body}");
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest && body.Contains("DIGEST_INVALID", StringComparison.Ordinal),
                $"expected 400 with the distribution error code DIGEST_INVALID for an upstream manifest that does not match its digest, got {(int)response.StatusCode}: {body}");

            var pull = await cluster.PullThroughMirrorAsync(pushed, lied, $"{PushedImage.Repository}@{amd64Manifest}", Path.Combine(cluster.Root, $"pull-lied-{attempt}"), "amd64", null);
            cluster.Log($"skopeo pull of a manifest not matching its digest: exit {pull.ExitCode}: {pull.Stderr.Trim()}");
            Assert.True(pull.ExitCode != 0, $"a pull of a manifest that does not match its digest succeeded:\n{pull.Output}");
            liedPull = pull;
            await ImageSteps.AssertNothingCachedAsync(agents, $"pull {attempt} of a manifest not matching its digest");
        }
        var blobGets = registry.Requests().Skip(mark).Where(r => r.BlobDigest is not null).ToList();
        Assert.True(blobGets.Count == 0, $"the registry was asked for blobs: {string.Join(", ", blobGets)}");

        // The same digest through the honest mirror works: the digest was right, the front lied.
        var directory = Path.Combine(cluster.Root, "pull-honest");
        var good = await cluster.PullThroughMirrorAsync(pushed, honest, $"{PushedImage.Repository}@{amd64Manifest}", directory, "amd64", null);
        Assert.True(good.ExitCode == 0, $"a pull of {PushedImage.Repository}@{amd64Manifest} through the honest mirror failed:\n{good.Output}");
        var amd64 = pushed.Amd64.Blobs.Select(b => b.ToString()).ToList();
        Assert.True(amd64.All(ImageSteps.LayoutBlobs(directory).Contains), "the honest pull lacks amd64 blobs");
        await honest.AssertHoldsExactlyAsync(pushed, amd64);
        await ImageSteps.AssertNothingCachedAsync([lied], "the honest pull on another agent");

        // Last, so that everything above is checked first: the user must learn why the pull failed.
        // Clients show a registry's error message only for 4xx answers (for 5xx just the status).
        Assert.True(liedPull!.Stderr.Contains("hashes to", StringComparison.Ordinal) || liedPull.Stderr.Contains("does not match", StringComparison.Ordinal),
            $"skopeo's error does not say that the manifest did not match its digest (the mirror's reason is lost):\n{liedPull.Stderr}");
    });
}
