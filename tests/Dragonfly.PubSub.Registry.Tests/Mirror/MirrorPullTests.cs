using Dragonfly.PubSub.Registry.Tests.Infrastructure;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>skopeo pulling through the mirror (hosted in a test web app, blobs from DirectBlobSource) from a real registry.</summary>
public sealed class MirrorPullTests(MirrorFixture fixture) : IClassFixture<MirrorFixture>, IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("dragonfly-pull-").FullName;

    [Fact]
    public async Task SkopeoCopy_Arm64ThroughTheMirror_GetsExactlyTheArm64ImageAndEachBlobReachesTheRegistryOnce()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        var arm64 = fixture.Image["linux/arm64"];
        var amd64 = fixture.Image["linux/amd64"];

        var first = await PullAsync(mirror, "first");
        var second = await PullAsync(mirror, "second");

        foreach (var directory in new[] { first, second })
        {
            var blobs = OciLayout.Blobs(directory);
            // skopeo verified every digest; the layout holds the arm64 manifest, config and layers, nothing of amd64.
            Assert.Equal(arm64.Blobs.Append(arm64.ManifestDigest).OrderBy(d => d.Hex), blobs.Keys.OrderBy(d => d.Hex));
            Assert.All(arm64.Blobs, d => Assert.Equal(fixture.Image.Blob(d), blobs[d]));
            Assert.Equal(arm64.Manifest, blobs[arm64.ManifestDigest]);
        }
        foreach (var blob in arm64.Blobs)
        {
            Assert.Equal(1, await fixture.Registry.BlobGetsAsync(blob, 1));
        }
        Assert.All(amd64.Blobs, d => Assert.Equal(0, fixture.Registry.BlobGets(d)));
        Assert.Equal(arm64.Blobs.Concat(arm64.Blobs).OrderBy(d => d.Hex), mirror.BlobRequests.Select(r => r.Digest).OrderBy(d => d.Hex));
        Assert.All(mirror.BlobRequests, r =>
        {
            Assert.Equal(fixture.Registry.Name, r.Registry);
            Assert.Equal("apps/demo", r.Repository);
            Assert.Equal(new Uri(fixture.Registry.BaseUri, $"v2/apps/demo/blobs/{r.Digest}"), r.Url);
            Assert.Null(r.Authorization);
        });
        Assert.DoesNotContain("Warning", mirror.Logs.Text);
        Assert.DoesNotContain("Error", mirror.Logs.Text);
    }

    private async Task<string> PullAsync(MirrorHost mirror, string name)
    {
        var directory = Path.Combine(_temp, name);
        var result = await fixture.Skopeo.RunAsync(["copy", "--retry-times", "0", "--src-tls-verify=false", "--override-arch", "arm64", "--override-os", "linux",
            $"docker://{mirror.Name}/apps/demo:v1", $"oci:{directory}:v1"]);
        Assert.True(result.ExitCode == 0, $"skopeo failed:\n{result.Output}\nmirror log:\n{mirror.Logs.Text}");
        return directory;
    }

    public void Dispose() => TempDirectory.Delete(_temp);
}
