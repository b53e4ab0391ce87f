using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Registry.Tests.References;

public sealed class ImageReferenceTests
{
    private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("ubuntu", "docker.io", "library/ubuntu", "latest", null)]
    [InlineData("ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", null)]
    [InlineData("library/ubuntu", "docker.io", "library/ubuntu", "latest", null)]
    [InlineData("docker.io/ubuntu", "docker.io", "library/ubuntu", "latest", null)]
    [InlineData("index.docker.io/library/ubuntu:1", "docker.io", "library/ubuntu", "1", null)]
    [InlineData("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", null)]
    [InlineData("ghcr.io/org/team/app:v1.2.3", "ghcr.io", "org/team/app", "v1.2.3", null)]
    [InlineData("localhost/app", "localhost", "app", "latest", null)]
    [InlineData("localhost:5000/app:dev", "localhost:5000", "app", "dev", null)]
    [InlineData("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "latest", null)]
    [InlineData("[::1]:5000/app:x", "[::1]:5000", "app", "x", null)]
    [InlineData("Registry/app", "Registry", "app", "latest", null)]
    [InlineData("registry.example.com/my_app__x-y.z", "registry.example.com", "my_app__x-y.z", "latest", null)]
    [InlineData("app@sha256:" + Hex, "docker.io", "library/app", null, "sha256:" + Hex)]
    [InlineData("127.0.0.1:5000/app:v1@sha256:" + Hex, "127.0.0.1:5000", "app", "v1", "sha256:" + Hex)]
    [InlineData("localhost:5000", "docker.io", "library/localhost", "5000", null)]
    public void Parse_ValidReference_NormalizesLikeDocker(string text, string registry, string repository, string? tag, string? digest)
    {
        var reference = ImageReference.Parse(text);

        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest?.ToString());
        Assert.Equal(digest ?? tag, reference.Reference);
        Assert.Equal(reference, ImageReference.Parse(reference.ToString()));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("Ubuntu", "must be lowercase")]
    [InlineData("ghcr.io/Org/app", "must be lowercase")]
    [InlineData("app:", "tag '' is invalid")]
    [InlineData("app:-bad", "tag '-bad' is invalid")]
    [InlineData("app:has space", "white space")]
    [InlineData("app@sha256:abc", "64 lowercase hex")]
    [InlineData("app@sha512:" + Hex, "only sha256")]
    [InlineData("registry.example.com/", "repository '' is invalid")]
    [InlineData("-bad.example.com/app", "registry '-bad.example.com'")]
    [InlineData("app//x", "is invalid")]
    [InlineData("app/-x", "is invalid")]
    [InlineData(":tag", "repository name is missing")]
    public void Parse_MalformedReference_FailsWithOneClearLine(string text, string reason)
    {
        var error = Assert.Throws<FormatException>(() => ImageReference.Parse(text));

        Assert.Contains(reason, error.Message);
        Assert.Contains("is not a valid image reference", error.Message);
        Assert.Contains("[registry[:port]/]repository[:tag][@sha256:<64 hex>]", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(ImageReference.TryParse(text, out _, out _));
    }

    [Fact]
    public void Parse_TooLongName_Fails()
    {
        var error = Assert.Throws<FormatException>(() => ImageReference.Parse("registry.example.com/" + new string('a', 250)));

        Assert.Contains("longer than 255", error.Message);
    }

    [Fact]
    public void At_Digest_KeepsTagAndPullsByDigest()
    {
        var digest = Contracts.ContentDigest.Parse("sha256:" + Hex);

        var pinned = ImageReference.Parse("127.0.0.1:5000/app:v1").At(digest);

        Assert.Equal("sha256:" + Hex, pinned.Reference);
        Assert.Equal("127.0.0.1:5000/app:v1@sha256:" + Hex, pinned.ToString());
    }
}
