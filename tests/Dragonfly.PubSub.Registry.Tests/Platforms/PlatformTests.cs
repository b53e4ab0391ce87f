using Dragonfly.PubSub.Registry.Platforms;

namespace Dragonfly.PubSub.Registry.Tests.Platforms;

public sealed class PlatformTests
{
    [Theory]
    [InlineData("linux/amd64", "linux/amd64")]
    [InlineData("linux/x86_64", "linux/amd64")]
    [InlineData("Linux/AMD64", "linux/amd64")]
    [InlineData("linux/arm64", "linux/arm64")]
    [InlineData("linux/arm64/v8", "linux/arm64")]
    [InlineData("linux/aarch64", "linux/arm64")]
    [InlineData("linux/arm", "linux/arm/v7")]
    [InlineData("linux/arm/v6", "linux/arm/v6")]
    [InlineData("linux/armhf", "linux/arm/v7")]
    [InlineData("windows/amd64", "windows/amd64")]
    [InlineData(" linux/s390x ", "linux/s390x")]
    public void Parse_NormalizesLikeContainerd(string text, string expected)
    {
        Assert.Equal(expected, Platform.Parse(text).ToString());
        Assert.Equal(Platform.Parse(expected), Platform.Parse(text));
    }

    [Theory]
    [InlineData("linux")]
    [InlineData("linux/")]
    [InlineData("/amd64")]
    [InlineData("linux/amd64/v2/x")]
    [InlineData("linux amd64")]
    public void Parse_Malformed_SaysWhatIsExpected(string text)
    {
        var error = Assert.Throws<FormatException>(() => Platform.Parse(text));

        Assert.Contains("expected os/arch or os/arch/variant", error.Message);
    }

    [Fact]
    public void Selector_CommaListAndRepeats_AreOneSet()
    {
        var selector = PlatformSelector.Parse("linux/amd64,linux/arm64", "linux/arm64/v8");

        Assert.False(selector.All);
        Assert.Equal(["linux/amd64", "linux/arm64"], selector.Platforms.Select(p => p.ToString()));
        Assert.True(selector.Matches(Platform.Parse("linux/aarch64")));
        Assert.False(selector.Matches(Platform.Parse("linux/s390x")));
    }

    [Fact]
    public void Selector_All_MatchesEveryRealPlatformButNotAttestations()
    {
        var selector = PlatformSelector.Parse("all");

        Assert.True(selector.All);
        Assert.True(selector.Matches(Platform.Parse("linux/riscv64")));
        Assert.False(selector.Matches(Platform.Parse("unknown/unknown")));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" , ")]
    public void Selector_Empty_IsAnErrorNotADefault(string text)
    {
        var error = Assert.Throws<FormatException>(() => PlatformSelector.Parse(text));

        Assert.Contains("a platform is required", error.Message);
    }

    [Fact]
    public void Selector_AllWithOthers_IsAnError()
    {
        var error = Assert.Throws<FormatException>(() => PlatformSelector.Parse("all,linux/amd64"));

        Assert.Contains("'all' cannot be combined", error.Message);
    }
}
