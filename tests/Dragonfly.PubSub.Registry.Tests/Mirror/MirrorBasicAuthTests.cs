using System.Net;
using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Tests.Client;
using Dragonfly.PubSub.Registry.Tests.Infrastructure;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>Pulls through the mirror from a real registry with htpasswd basic auth: the client's credentials are used upstream.</summary>
public sealed class MirrorBasicAuthTests(BasicAuthFixture fixture) : IClassFixture<BasicAuthFixture>, IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("dragonfly-mirror-basic-").FullName;

    [Fact]
    public async Task SkopeoWithCredentials_PullsThroughTheMirror()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        var arm64 = fixture.Image["linux/arm64"];

        var result = await MirrorPulls.PullAsync(fixture.Skopeo, mirror, "private/app:v1", Path.Combine(_temp, "out"), $"{BasicAuthFixture.User}:{BasicAuthFixture.Password}");

        Assert.True(result.ExitCode == 0, result.Output + mirror.Logs.Text);
        var blobs = OciLayout.Blobs(Path.Combine(_temp, "out"));
        Assert.All(arm64.Blobs, d => Assert.Equal(fixture.Image.Blob(d), blobs[d]));
        var expected = RegistryAuth.Basic(BasicAuthFixture.User, BasicAuthFixture.Password).BasicHeaderValue();
        Assert.All(mirror.BlobRequests, r => Assert.Equal(expected, r.Authorization));
        Assert.Equal(3, mirror.BlobRequests.Count);
        MirrorPulls.AssertNoSecretLogged(mirror, BasicAuthFixture.Password, expected!["Basic ".Length..]);
    }

    [Fact]
    public async Task SkopeoWithoutCredentials_FailsClearlyAndNoBlobIsFetched()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        var before = fixture.Registry.AllBlobGets();

        var result = await MirrorPulls.PullAsync(fixture.Skopeo, mirror, "private/app:v1", Path.Combine(_temp, "out"), credentials: null);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unauthorized", result.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(mirror.BlobRequests);
        Assert.Equal(before, fixture.Registry.AllBlobGets());
    }

    [Fact]
    public async Task SkopeoWithAWrongPassword_FailsClearlyWithoutLoggingIt()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);

        var result = await MirrorPulls.PullAsync(fixture.Skopeo, mirror, "private/app:v1", Path.Combine(_temp, "out"), $"{BasicAuthFixture.User}:Wr0ng-Pa55");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unauthorized", result.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(mirror.BlobRequests);
        MirrorPulls.AssertNoSecretLogged(mirror, "Wr0ng-Pa55", Convert.ToBase64String("alice:Wr0ng-Pa55"u8));
    }

    [Fact]
    public async Task Base_WithoutCredentials_ChallengesForBasicSoClientsSendThem()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        using var http = new HttpClient { Timeout = Timeouts.Test };

        using var anonymous = await http.GetAsync(new Uri(mirror.BaseUri, "v2/"));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(mirror.BaseUri, "v2/"));
        request.Headers.Authorization = new("Basic", Convert.ToBase64String("alice:s3cret-Pa55"u8));
        using var withCredentials = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Basic realm=\"Dragonfly registry mirror\"", anonymous.Headers.WwwAuthenticate.Single().ToString());
        Assert.Contains("needs credentials", await anonymous.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, withCredentials.StatusCode);
    }

    public void Dispose() => TempDirectory.Delete(_temp);
}
