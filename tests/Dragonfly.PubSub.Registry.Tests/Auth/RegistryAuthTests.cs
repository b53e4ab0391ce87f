using Dragonfly.PubSub.Registry.Auth;

namespace Dragonfly.PubSub.Registry.Tests.Auth;

public sealed class RegistryAuthTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Basic Og==")] // ":" — what skopeo sends without credentials
    public void FromHeader_NothingToUse_IsAnonymous(string? header)
    {
        var auth = RegistryAuth.FromAuthorizationHeader(header);

        Assert.True(auth.IsAnonymous);
        Assert.Equal("anonymous", auth.Fingerprint);
    }

    [Fact]
    public void FromHeader_Basic_IsDecodedIntoCredentials()
    {
        var auth = RegistryAuth.FromAuthorizationHeader("Basic " + Convert.ToBase64String("alice:pa:ss"u8));

        Assert.True(auth.HasCredentials);
        Assert.Equal("alice", auth.Username);
        Assert.Equal("Basic " + Convert.ToBase64String("alice:pa:ss"u8), auth.BasicHeaderValue());
        Assert.Equal(RegistryAuth.Basic("alice", "pa:ss").Fingerprint, auth.Fingerprint);
        Assert.NotEqual(RegistryAuth.Basic("alice", "other").Fingerprint, auth.Fingerprint);
    }

    [Theory]
    [InlineData("Bearer abc.def.ghi")]
    [InlineData("Basic not-base64!")]
    public void FromHeader_AnythingElse_IsPassedThroughUnchanged(string header)
    {
        var auth = RegistryAuth.FromAuthorizationHeader(header);

        Assert.False(auth.IsAnonymous);
        Assert.False(auth.HasCredentials);
        Assert.Equal(header, auth.RawHeader);
    }

    [Fact]
    public void ToStringAndFingerprint_NeverRevealTheSecret()
    {
        var auth = RegistryAuth.Basic("alice", "s3cret");
        var raw = RegistryAuth.FromAuthorizationHeader("Bearer t0ken");

        Assert.DoesNotContain("s3cret", auth.ToString() + auth.Fingerprint);
        Assert.DoesNotContain("alice", auth.ToString());
        Assert.DoesNotContain("t0ken", raw.ToString() + raw.Fingerprint);
        Assert.Equal(16, auth.Fingerprint.Length);
    }

    [Fact]
    public void ChallengeParameters_KeepCommasInsideQuotes()
    {
        var parameters = AuthChallenge.ParseParameters("""realm="https://auth.example.com/token",service="registry.example.com", scope="repository:a/b:pull,push",error=insufficient_scope""");

        Assert.Equal("https://auth.example.com/token", parameters["realm"]);
        Assert.Equal("registry.example.com", parameters["service"]);
        Assert.Equal("repository:a/b:pull,push", parameters["scope"]);
        Assert.Equal("insufficient_scope", parameters["error"]);
    }
}
