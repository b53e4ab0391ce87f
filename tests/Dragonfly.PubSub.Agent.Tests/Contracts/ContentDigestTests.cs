using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

public sealed class ContentDigestTests
{
    private const string Empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void Parse_AcceptsTheCanonicalForm()
    {
        var digest = ContentDigest.Parse(Empty);

        Assert.Equal(Empty, digest.ToString());
        Assert.Equal(Empty["sha256:".Length..], digest.Hex);
        Assert.Equal(SHA256.HashData(ReadOnlySpan<byte>.Empty), digest.ToBytes());
        Assert.Equal(digest, ContentDigest.FromHash(SHA256.HashData(ReadOnlySpan<byte>.Empty)));
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555")]
    [InlineData("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256:../../etc/passwd")]
    public void TryParse_RejectsAnythingElse(string? text)
    {
        Assert.False(ContentDigest.TryParse(text, out _));
    }

    [Fact]
    public void Parse_Failure_SaysWhatIsExpected()
    {
        var e = Assert.Throws<FormatException>(() => ContentDigest.Parse("sha256:nope"));
        Assert.Contains("64 lowercase hex", e.Message);
    }

    [Fact]
    public void FromHash_RejectsWrongLength()
    {
        Assert.Throws<ArgumentException>(() => ContentDigest.FromHash(new byte[31]));
    }
}
