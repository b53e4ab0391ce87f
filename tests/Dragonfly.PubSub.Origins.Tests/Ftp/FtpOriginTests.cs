using Dragonfly.PubSub.Origins.Tests.Infrastructure;

namespace Dragonfly.PubSub.Origins.Tests.Ftp;

public sealed class FtpOriginTests(FtpFixture ftp) : IClassFixture<FtpFixture>
{
    private static readonly OriginRequestOptions Fast = Timeouts.FastRetries;

    [Fact]
    public async Task Stat_ReportsSizeRestSupportAndModificationTime()
    {
        var stat = await ftp.Client.StatAsync(ftp.Server.Url("data.bin"), Fast).WaitAsync(Timeouts.Test);

        Assert.Equal(FtpFixture.DataSize, stat.Size);
        Assert.True(stat.SupportsRanges);
        Assert.NotNull(stat.LastModified);
        Assert.True(Math.Abs((stat.LastModified.Value - DateTimeOffset.UtcNow).TotalMinutes) < 10);
    }

    [Fact]
    public async Task RangedReads_WithRest_ReassembleToTheSameBytes()
    {
        var bytes = await TestData.ReassembleAsync(ftp.Client, ftp.Server.Url("data.bin"), FtpFixture.DataSize, 512 * 1024 + 3, inFlight: 3, Fast)
            .WaitAsync(Timeouts.Test);

        Assert.Equal(TestData.Sha256(ftp.Data), TestData.Sha256(bytes));
    }

    [Fact]
    public async Task ServerWithoutRest_ReportsNoRanges_AndStillReturnsTheRightBytes()
    {
        var url = ftp.Server.Url("data.bin", noRest: true);

        var stat = await ftp.Client.StatAsync(url, Fast).WaitAsync(Timeouts.Test);
        var piece = new byte[200_000];
        var read = await ftp.Client.ReadRangeAsync(url, 1_500_000, piece, Fast).WaitAsync(Timeouts.Test);

        Assert.False(stat.SupportsRanges);
        Assert.Equal(FtpFixture.DataSize, stat.Size);
        Assert.Equal(piece.Length, read);
        Assert.Equal(ftp.Data.AsSpan(1_500_000, piece.Length).ToArray(), piece);
    }

    [Fact]
    public async Task OpenRange_WithoutLength_ReadsToTheEndAndChecksTheTransferCompleted()
    {
        await using var stream = await ftp.Client.OpenRangeAsync(ftp.Server.Url("data.bin"), 2_000_000, null, Fast).WaitAsync(Timeouts.Test);

        var bytes = await TestData.ReadAllAsync(stream).WaitAsync(Timeouts.Test);

        Assert.Equal(ftp.Data.AsSpan(2_000_000).ToArray(), bytes);
    }

    [Fact]
    public async Task LengthPastTheEnd_ReturnsTheBytesUpToTheEnd()
    {
        var piece = new byte[10_000];

        var read = await ftp.Client.ReadRangeAsync(ftp.Server.Url("data.bin"), FtpFixture.DataSize - 1000, piece, Fast).WaitAsync(Timeouts.Test);

        Assert.Equal(1000, read);
        Assert.Equal(ftp.Data.AsSpan(FtpFixture.DataSize - 1000).ToArray(), piece.AsSpan(0, 1000).ToArray());
    }

    [Fact]
    public async Task OffsetBeyondTheEnd_FailsAtOnce()
    {
        var error = await Assert.ThrowsAsync<OriginException>(() => ftp.Client.OpenRangeAsync(ftp.Server.Url("data.bin"), FtpFixture.DataSize + 5, 10, Fast))
            .WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.RangeNotSatisfiable, error.Kind);
    }

    [Fact]
    public async Task UserAndPassword_FromTheUrl_LogIn_AndAWrongPasswordIsNeverShown()
    {
        var good = ftp.Server.Url("data.bin", userInfo: $"{FtpServer.User}:{FtpServer.Password}");
        var bad = ftp.Server.Url("data.bin", userInfo: $"{FtpServer.User}:not-the-pa55word");

        var stat = await ftp.Client.StatAsync(good, Fast).WaitAsync(Timeouts.Test);
        var error = await Assert.ThrowsAsync<OriginException>(() => ftp.Client.StatAsync(bad, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(FtpFixture.DataSize, stat.Size);
        Assert.Equal(OriginErrorKind.AccessDenied, error.Kind);
        Assert.Equal($"login refused by origin (FTP 530): ftp://***@127.0.0.1:{ftp.Server.Port}/data.bin; check the user and password in the URL", error.Message);
        Assert.DoesNotContain("not-the-pa55word", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingFile_FailsAtOnceAsNotFound()
    {
        var url = ftp.Server.Url("missing.bin");

        var stat = await Assert.ThrowsAsync<OriginException>(() => ftp.Client.StatAsync(url, Fast)).WaitAsync(Timeouts.Test);
        var open = await Assert.ThrowsAsync<OriginException>(() => ftp.Client.OpenRangeAsync(url, 0, 100, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal($"not found at origin: {url}", stat.Message);
        Assert.Equal(OriginErrorKind.NotFound, open.Kind);
        Assert.Equal(550, open.StatusCode);
    }

    [Fact]
    public async Task NoServer_IsRetriedThenFailsClearly()
    {
        var url = new Uri($"ftp://127.0.0.1:{FreePort.Next()}/data.bin");

        var error = await Assert.ThrowsAsync<OriginException>(() => ftp.Client.StatAsync(url, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.Unavailable, error.Kind);
        Assert.Equal($"cannot reach origin (ConnectionRefused): {url}; gave up after 4 attempts", error.Message);
    }
}
