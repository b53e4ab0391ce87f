using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Agent.Tests.Cache;

public sealed class FreeSpaceFloorTests
{
    [Theory]
    [InlineData("5%", 1000L, 50L)]
    [InlineData("0.5%", 1000L, 5L)]
    [InlineData("10GiB", 1L, 10L << 30)]
    [InlineData("4096", 1_000_000L, 4096L)]
    [InlineData("0", 1000L, 0L)]
    public void Parse_SizesAndPercentages_GiveTheFloorInBytes(string text, long total, long expected) =>
        Assert.Equal(expected, FreeSpaceFloor.Parse(text).BytesOf(total));

    [Theory]
    [InlineData("100%")]
    [InlineData("-1%")]
    [InlineData("lots")]
    [InlineData("5 percent")]
    public void Parse_Nonsense_IsAUsageErrorNamingTheFlag(string text)
    {
        var error = Assert.Throws<UserFacingException>(() => FreeSpaceFloor.Parse(text));
        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains("--min-free", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void None_IsTheDefault() => Assert.True(default(FreeSpaceFloor).IsNone);
}
