using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

public sealed class ByteSizeTests
{
    [Theory]
    [InlineData("4096", 4096)]
    [InlineData("20MiB", 20L << 20)]
    [InlineData("20mib", 20L << 20)]
    [InlineData("512k", 512L << 10)]
    [InlineData("1.5GB", 1_500_000_000)]
    [InlineData("10MiB/s", 10L << 20)]
    [InlineData(" 2 GiB ", 2L << 30)]
    [InlineData("0", 0)]
    public void Parse_AcceptsWhatUsersWrite(string text, long expected)
    {
        Assert.True(ByteSize.TryParse(text, out var bytes));
        Assert.Equal(expected, bytes);
        Assert.Equal(expected, ByteSize.Parse(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1XB")]
    [InlineData("MiB")]
    public void Parse_RejectsNonsense(string? text)
    {
        Assert.False(ByteSize.TryParse(text, out _));
    }

    [Fact]
    public void Parse_Failure_SaysWhatToWrite()
    {
        var e = Assert.Throws<FormatException>(() => ByteSize.Parse("lots"));
        Assert.Contains("20MiB", e.Message);
    }

    [Theory]
    [InlineData(null, 0L)]
    [InlineData("20MiB", 20L << 20)]
    [InlineData("11MiB/s", 11L << 20)]
    [InlineData("0", 0L)]
    public void ParseRate_GivesBytesPerSecond_AndZeroWhenNotGiven(string? text, long expected)
    {
        Assert.Equal(expected, ByteSize.ParseRate(text, "--upload-limit"));
    }

    [Fact]
    public void ParseRate_OfSomethingElse_IsAUsageErrorNamingWhereItCameFrom()
    {
        var e = Assert.Throws<UserFacingException>(() => ByteSize.ParseRate("fast", "DFAGENT_UPLOAD_LIMIT"));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
        Assert.Equal("DFAGENT_UPLOAD_LIMIT 'fast' is not a rate; write e.g. 20MiB (per second)", e.Message);
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(4L << 20, "4 MiB")]
    [InlineData(3L << 40, "3 TiB")]
    public void Format_UsesBinaryUnits(long bytes, string expected)
    {
        Assert.Equal(expected, ByteSize.Format(bytes));
    }
}
