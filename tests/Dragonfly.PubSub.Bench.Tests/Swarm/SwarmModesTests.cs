using Dragonfly.PubSub.Bench.Swarm;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

public sealed class SwarmModesTests
{
    [Fact]
    public void ParseModes_TakesOneOrSeveralKnownModesOnce()
    {
        Assert.Equal(["publish"], SwarmCommand.ParseModes("publish"));
        Assert.Equal(["url", "url-announce"], SwarmCommand.ParseModes(" url , url-announce,url"));
    }

    [Theory]
    [InlineData("")]
    [InlineData(",")]
    [InlineData("source")]
    [InlineData("url,http")]
    public void ParseModes_RejectsUnknownOrNoModeAsUsage(string text)
    {
        var e = Assert.Throws<UserFacingException>(() => SwarmCommand.ParseModes(text));
        Assert.Equal(ExitCodes.Usage, e.ExitCode);
    }

    [Fact]
    public void SystemNames_KeepPublishAsDragonflyAndNameTheUrlScenarios()
    {
        Assert.Equal(["dragonfly", "dragonfly-url", "dragonfly-url-announce"], SwarmModes.All.Select(SwarmModes.SystemName));
    }
}
