using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;
using Dragonfly.PubSub.Registry.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Registry.Tests.Client;

public sealed class BearerAuthTests : IClassFixture<BearerAuthFixture>, IDisposable
{
    private readonly BearerAuthFixture _fixture;
    private readonly CapturedLogs _logs = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly RegistryClient _client;
    private readonly string _temp = Directory.CreateTempSubdirectory("dragonfly-bearer-").FullName;

    public BearerAuthTests(BearerAuthFixture fixture)
    {
        _fixture = fixture;
        _client = new RegistryClient(time: _time, logger: _logs.For<RegistryClient>());
    }

    private ImageReference App => ImageReference.Parse($"{_fixture.Registry.Name}/team/app:v1");

    private static RegistryAuth Bob => RegistryAuth.Basic(BearerAuthFixture.User, BearerAuthFixture.Password);

    private int TokensFor(string scope) => _fixture.Tokens.Requests.Count(r => r.Granted && r.User == BearerAuthFixture.User && r.Scope == scope);

    [Fact]
    public async Task Resolve_WithCredentials_GetsOnePullTokenAndReusesIt()
    {
        var before = TokensFor("repository:team/app:pull");

        var first = await _client.ResolveAsync(App, PlatformSelector.Parse("linux/arm64"), Bob).WaitAsync(Timeouts.Test);
        var second = await _client.ResolveAsync(App, PlatformSelector.Parse("linux/amd64"), Bob).WaitAsync(Timeouts.Test);

        Assert.Equal(_fixture.Image["linux/arm64"].Blobs, first.Blobs.Select(b => b.Digest));
        Assert.Equal(_fixture.Image["linux/amd64"].Blobs, second.Blobs.Select(b => b.Digest));
        Assert.Equal(1, TokensFor("repository:team/app:pull") - before);
        AssertNoSecretLogged();
    }

    [Fact]
    public async Task Token_AfterItExpires_IsFetchedAgain()
    {
        await _client.ResolveAsync(App, PlatformSelector.Parse("linux/arm64"), Bob).WaitAsync(Timeouts.Test);
        var before = TokensFor("repository:team/app:pull");

        _time.Advance(TimeSpan.FromSeconds(_fixture.Tokens.ExpiresIn - 5));
        await _client.ResolveAsync(App, PlatformSelector.Parse("linux/arm64"), Bob).WaitAsync(Timeouts.Test);

        Assert.Equal(1, TokensFor("repository:team/app:pull") - before);
    }

    [Fact]
    public async Task Resolve_Anonymous_SaysCredentialsAreNeeded()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.ResolveAsync(App, PlatformSelector.Parse("linux/arm64"), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Kind);
        Assert.Equal($"{_fixture.Registry.Name} needs credentials: its token service refused an anonymous token (401)", error.Message);
    }

    [Fact]
    public async Task Resolve_WrongPassword_SaysTheTokenServiceRefusedThem()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.ResolveAsync(App, PlatformSelector.Parse("linux/arm64"), RegistryAuth.Basic(BearerAuthFixture.User, "Wr0ng-pw")).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Kind);
        Assert.Equal($"the token service of {_fixture.Registry.Name} refused the credentials (401); check the user name and password", error.Message);
        Assert.DoesNotContain("Wr0ng-pw", _logs.Text);
    }

    [Fact]
    public async Task BlobLocation_CarriesAPullTokenTheRegistryAccepts()
    {
        var layer = _fixture.Image["linux/arm64"].Layers[1];
        var path = Path.Combine(_temp, "layer");

        var location = await _client.GetBlobLocationAsync(App, layer, Bob).WaitAsync(Timeouts.Test);
        await _client.DownloadBlobAsync(location.Url, location.Authorization, layer, path).WaitAsync(Timeouts.Test);

        Assert.StartsWith("Bearer ey", location.Authorization);
        Assert.Equal(_fixture.Image.Blob(layer), await File.ReadAllBytesAsync(path));
        Assert.DoesNotContain(location.Authorization!["Bearer ".Length..], _logs.Text);
        AssertNoSecretLogged();
    }

    [Fact]
    public async Task PassedThroughToken_IsSentAsItIs()
    {
        var location = await _client.GetBlobLocationAsync(App, _fixture.Image["linux/amd64"].Config, Bob).WaitAsync(Timeouts.Test);
        var passThrough = RegistryAuth.FromAuthorizationHeader(location.Authorization);

        var manifest = await _client.GetManifestAsync(App, passThrough).WaitAsync(Timeouts.Test);
        var refused = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.GetManifestAsync(App, RegistryAuth.FromAuthorizationHeader("Bearer not-a-token")).WaitAsync(Timeouts.Test));

        Assert.Equal(_fixture.Image.RootDigest, manifest.Digest);
        Assert.Equal(RegistryErrorKind.Unauthorized, refused.Kind);
    }

    private void AssertNoSecretLogged()
    {
        Assert.NotEmpty(_logs.Lines);
        Assert.DoesNotContain(BearerAuthFixture.Password, _logs.Text);
        Assert.DoesNotContain("eyJ", _logs.Text); // no JWT
    }

    public void Dispose()
    {
        _client.Dispose();
        TempDirectory.Delete(_temp);
    }
}
