using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;
using Dragonfly.PubSub.Registry.Tests.Infrastructure;

namespace Dragonfly.PubSub.Registry.Tests.Client;

public sealed class BasicAuthTests : IClassFixture<BasicAuthFixture>, IDisposable
{
    private readonly BasicAuthFixture _fixture;
    private readonly CapturedLogs _logs = new();
    private readonly RegistryClient _client;
    private readonly string _temp = Directory.CreateTempSubdirectory("dragonfly-basic-").FullName;

    public BasicAuthTests(BasicAuthFixture fixture)
    {
        _fixture = fixture;
        _client = new RegistryClient(logger: _logs.For<RegistryClient>());
    }

    private ImageReference App => ImageReference.Parse($"{_fixture.Registry.Name}/private/app:v1");

    private static RegistryAuth Alice => RegistryAuth.Basic(BasicAuthFixture.User, BasicAuthFixture.Password);

    [Fact]
    public async Task Resolve_WithCredentials_AnswersTheBasicChallenge()
    {
        var resolved = await _client.ResolveAsync(App, PlatformSelector.Parse("linux/arm64"), Alice).WaitAsync(Timeouts.Test);

        Assert.Equal(_fixture.Image["linux/arm64"].Blobs, resolved.Blobs.Select(b => b.Digest));
        AssertNoSecretLogged();
    }

    [Fact]
    public async Task Resolve_WithoutCredentials_SaysCredentialsAreNeeded()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.ResolveAsync(App, PlatformSelector.Parse("linux/arm64"), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Kind);
        Assert.StartsWith($"manifest {App}: {_fixture.Registry.Name} needs credentials (401", error.Message);
    }

    [Fact]
    public async Task Resolve_WrongPassword_SaysTheyWereRefusedWithoutRepeatingThem()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.ResolveAsync(App, PlatformSelector.Parse("linux/arm64"), RegistryAuth.Basic(BasicAuthFixture.User, "wrong-Secret-9")).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Kind);
        Assert.Contains("refused the credentials", error.Message);
        Assert.DoesNotContain("wrong-Secret-9", error.Message);
        Assert.DoesNotContain("wrong-Secret-9", _logs.Text);
    }

    [Fact]
    public async Task BlobLocation_CarriesTheBasicHeaderThatFetchesTheBlob()
    {
        var config = _fixture.Image["linux/arm64"].Config;

        var location = await _client.GetBlobLocationAsync(App, config, Alice).WaitAsync(Timeouts.Test);
        await _client.DownloadBlobAsync(location.Url, location.Authorization, config, Path.Combine(_temp, "config")).WaitAsync(Timeouts.Test);

        Assert.Equal(Alice.BasicHeaderValue(), location.Authorization);
        Assert.Equal(_fixture.Image.Blob(config), await File.ReadAllBytesAsync(Path.Combine(_temp, "config")));
        Assert.DoesNotContain(BasicAuthFixture.Password, location.ToString());
        AssertNoSecretLogged();
    }

    [Fact]
    public async Task BlobLocation_WrongPassword_IsRefusedWithoutTouchingTheBlob()
    {
        var config = _fixture.Image["linux/amd64"].Config;

        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.GetBlobLocationAsync(App, config, RegistryAuth.Basic(BasicAuthFixture.User, "nope")).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.Unauthorized, error.Kind);
        Assert.Equal($"repository {_fixture.Registry.Name}/private/app: {_fixture.Registry.Name} refused the credentials; check the user name and password", error.Message);
        Assert.Equal(0, _fixture.Registry.BlobGets(config));
    }

    private void AssertNoSecretLogged()
    {
        Assert.NotEmpty(_logs.Lines);
        Assert.DoesNotContain(BasicAuthFixture.Password, _logs.Text);
        Assert.DoesNotContain(Alice.BasicHeaderValue()!["Basic ".Length..], _logs.Text);
    }

    public void Dispose()
    {
        _client.Dispose();
        TempDirectory.Delete(_temp);
    }
}
