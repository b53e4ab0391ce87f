using System.Text.Json;
using Dragonfly.PubSub.Broker.Preheat;

namespace Dragonfly.PubSub.Broker.Tests.Preheat;

public sealed class PreheatRequestTests
{
    [Fact]
    public void Parse_AValidBody_NormalizesTheImageAndPlatforms()
    {
        var request = Parse("""{"image": "127.0.0.1:5000/repo:tag", "platforms": ["linux/aarch64", "linux/x86_64"], "topic": "images/repo"}""", out var error);

        Assert.Null(error);
        Assert.Equal("127.0.0.1:5000/repo:tag", request!.Image.ToString());
        Assert.Equal(["linux/arm64", "linux/amd64"], request.Platforms.Platforms.Select(p => p.ToString()));
        Assert.Equal("images/repo", request.Topic);
    }

    [Theory]
    [InlineData("""{"image": "ubuntu", "platforms": ["all"], "topic": "t"}""", "docker.io/library/ubuntu:latest", "all")]
    [InlineData("""{"image": "r.test/a@sha256:0000000000000000000000000000000000000000000000000000000000000000", "platforms": "linux/arm64,linux/amd64", "topic": "t"}""",
        "r.test/a@sha256:0000000000000000000000000000000000000000000000000000000000000000", "linux/arm64,linux/amd64")]
    public void Parse_TakesAllOrACommaListOrASingleString(string body, string image, string platforms)
    {
        var request = Parse(body, out var error);

        Assert.Null(error);
        Assert.Equal((image, platforms), (request!.Image.ToString(), request.Platforms.ToString()));
    }

    [Theory]
    [InlineData("""[]""", "the body is not a JSON object")]
    [InlineData("""{"platforms": ["linux/arm64"], "topic": "t"}""", "image is required")]
    [InlineData("""{"image": "", "platforms": ["linux/arm64"], "topic": "t"}""", "image is required")]
    [InlineData("""{"image": 5, "platforms": ["linux/arm64"], "topic": "t"}""", "image must be a string")]
    [InlineData("""{"image": "Registry.test/Repo:tag", "platforms": ["linux/arm64"], "topic": "t"}""", "is not a valid image reference")]
    [InlineData("""{"image": "r.test/repo:bad:tag:", "platforms": ["linux/arm64"], "topic": "t"}""", "is not a valid image reference")]
    [InlineData("""{"image": "r.test/repo:v1", "topic": "t"}""", "platforms is required")]
    [InlineData("""{"image": "r.test/repo:v1", "platforms": [], "topic": "t"}""", "platforms is required")]
    [InlineData("""{"image": "r.test/repo:v1", "platforms": [""], "topic": "t"}""", "platforms is required")]
    [InlineData("""{"image": "r.test/repo:v1", "platforms": [1], "topic": "t"}""", "platforms must be an array of strings")]
    [InlineData("""{"image": "r.test/repo:v1", "platforms": ["arm64"], "topic": "t"}""", "'arm64' is not a platform")]
    [InlineData("""{"image": "r.test/repo:v1", "platforms": ["all", "linux/arm64"], "topic": "t"}""", "'all' cannot be combined")]
    [InlineData("""{"image": "r.test/repo:v1", "platforms": ["linux/arm64"]}""", "topic is required")]
    [InlineData("""{"image": "r.test/repo:v1", "platforms": ["linux/arm64"], "topic": "images/#"}""", "wildcard")]
    [InlineData("""{"image": "r.test/repo:v1", "platform": ["linux/arm64"], "topic": "t"}""", "unknown field 'platform'")]
    public void Parse_ABadBody_SaysWhatIsWrongInOneLine(string body, string expected)
    {
        var request = Parse(body, out var error);

        Assert.Null(request);
        Assert.Contains(expected, error);
        Assert.DoesNotContain('\n', error!);
    }

    private static PreheatRequest? Parse(string json, out string? error)
    {
        using var document = JsonDocument.Parse(json);
        return PreheatRequest.Parse(document.RootElement, out error);
    }
}
