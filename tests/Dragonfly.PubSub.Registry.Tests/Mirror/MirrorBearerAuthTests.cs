using System.Net;
using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Tests.Client;
using Dragonfly.PubSub.Registry.Tests.Infrastructure;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>Pulls through the mirror from a real registry with Bearer token auth: the mirror answers the challenge with the client's basic credentials.</summary>
public sealed class MirrorBearerAuthTests(BearerAuthFixture fixture) : IClassFixture<BearerAuthFixture>, IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("dragonfly-mirror-bearer-").FullName;

    [Fact]
    public async Task SkopeoWithCredentials_PullsThroughTheMirrorWithAPullToken()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        var arm64 = fixture.Image["linux/arm64"];

        var result = await MirrorPulls.PullAsync(fixture.Skopeo, mirror, "team/app:v1", Path.Combine(_temp, "out"), $"{BearerAuthFixture.User}:{BearerAuthFixture.Password}");

        Assert.True(result.ExitCode == 0, result.Output + mirror.Logs.Text);
        var blobs = OciLayout.Blobs(Path.Combine(_temp, "out"));
        Assert.All(arm64.Blobs, d => Assert.Equal(fixture.Image.Blob(d), blobs[d]));
        Assert.Equal(3, mirror.BlobRequests.Count);
        Assert.All(mirror.BlobRequests, r => Assert.StartsWith("Bearer ey", r.Authorization));
        MirrorPulls.AssertNoSecretLogged(mirror, BearerAuthFixture.Password, "eyJ");
    }

    [Fact]
    public async Task SkopeoWithoutCredentials_FailsClearly()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);

        var result = await MirrorPulls.PullAsync(fixture.Skopeo, mirror, "team/app:v1", Path.Combine(_temp, "out"), credentials: null);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unauthorized", result.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(mirror.BlobRequests);
    }

    [Theory]
    [InlineData("Bearer x", "team/app")]                    // a made-up token for the repository
    [InlineData("Bearer x", "someone/else")]                // ... under another repository name
    [InlineData(null, "team/app")]                          // no credentials at all
    public async Task BlobTheMirrorHolds_IsNotServedToAClientTheRegistryWouldRefuse(string? authorization, string repository)
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        var pulled = await MirrorPulls.PullAsync(fixture.Skopeo, mirror, "team/app:v1", Path.Combine(_temp, "out"), $"{BearerAuthFixture.User}:{BearerAuthFixture.Password}");
        Assert.True(pulled.ExitCode == 0, pulled.Output + mirror.Logs.Text);
        var layer = fixture.Image["linux/arm64"].Blobs.Last();
        Assert.True(File.Exists(mirror.Blobs.PathOf(layer)), "the honest pull should have left the layer in the mirror's store");

        using var http = new HttpClient { BaseAddress = mirror.BaseUri };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/blobs/{layer}");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound,
            $"a blob the registry would refuse this client was answered {(int)response.StatusCode}");
        Assert.NotEqual(fixture.Image.Blob(layer).Length, body.Length);
    }

    public void Dispose() => TempDirectory.Delete(_temp);
}
