using Dragonfly.PubSub.Origins.Http;
using Dragonfly.PubSub.Origins.Tests.Infrastructure;

namespace Dragonfly.PubSub.Origins.Tests.Http;

public sealed class HttpOriginTests(NginxFixture nginx) : IClassFixture<NginxFixture>
{
    private static readonly OriginRequestOptions Fast = Timeouts.FastRetries;

    [Fact]
    public async Task Stat_OfAFile_ReportsSizeRangesAndValidators()
    {
        var stat = await nginx.Client.StatAsync(nginx.Server.Http("files/data.bin"), Fast).WaitAsync(Timeouts.Test);

        Assert.Equal(NginxFixture.DataSize, stat.Size);
        Assert.True(stat.SupportsRanges);
        Assert.NotNull(stat.ETag);
        Assert.NotNull(stat.LastModified);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RangedReads_InParallel_ReassembleToTheSameBytes(bool https)
    {
        var url = https ? nginx.Server.Https("files/data.bin") : nginx.Server.Http("files/data.bin");

        var bytes = await TestData.ReassembleAsync(nginx.Client, url, NginxFixture.DataSize, pieceSize: 1024 * 1024 - 1, inFlight: 4, Fast).WaitAsync(Timeouts.Test);

        Assert.Equal(TestData.Sha256(nginx.Data), TestData.Sha256(bytes));
        Assert.All((await nginx.Server.RequestsAsync("/files/data.bin", 4)).Where(r => r.Method == "GET"), r => Assert.Equal(206, r.Status));
    }

    [Fact]
    public async Task OpenRange_WithoutLength_ReadsToTheEnd()
    {
        await using var stream = await nginx.Client.OpenRangeAsync(nginx.Server.Http("files/data.bin"), 1_000_000, null, Fast).WaitAsync(Timeouts.Test);

        var bytes = await TestData.ReadAllAsync(stream).WaitAsync(Timeouts.Test);

        Assert.Equal(TestData.Sha256(nginx.Data.AsSpan(1_000_000)), TestData.Sha256(bytes));
    }

    [Fact]
    public async Task OriginIgnoringRange_ReportsNoRanges_AndStillReturnsTheRightBytes()
    {
        var url = nginx.Server.Http("norange/data.bin");

        var stat = await nginx.Client.StatAsync(url, Fast).WaitAsync(Timeouts.Test);
        var piece = new byte[100_000];
        var read = await nginx.Client.ReadRangeAsync(url, 1024 * 1024 + 7, piece, Fast).WaitAsync(Timeouts.Test);

        Assert.False(stat.SupportsRanges);
        Assert.Equal(NginxFixture.DataSize, stat.Size);
        Assert.Equal(piece.Length, read);
        Assert.Equal(TestData.Sha256(nginx.Data.AsSpan(1024 * 1024 + 7, piece.Length)), TestData.Sha256(piece));
        Assert.Contains(await nginx.Server.RequestsAsync("/norange/data.bin", 2), r => r.Method == "GET" && r.Range.StartsWith("bytes=1048583-", StringComparison.Ordinal) && r.Status == 200);
    }

    [Fact]
    public async Task NotFound_FailsAtOnce_WithAClearMessageWithoutTheSignature()
    {
        var url = new Uri(nginx.Server.Http("files/missing.bin") + "?X-Amz-Signature=s3cr3tsig&v=1");

        var stat = await Assert.ThrowsAsync<OriginException>(() => nginx.Client.StatAsync(url, Fast)).WaitAsync(Timeouts.Test);
        var open = await Assert.ThrowsAsync<OriginException>(() => nginx.Client.OpenRangeAsync(url, 0, 10, Fast)).WaitAsync(Timeouts.Test);

        var expected = $"not found at origin: http://127.0.0.1:{nginx.Server.HttpPort}/files/missing.bin?X-Amz-Signature=***&v=1";
        Assert.Equal(expected, stat.Message);
        Assert.Equal(expected, open.Message);
        Assert.Equal(OriginErrorKind.NotFound, open.Kind);
        Assert.False(open.IsTransient);
        Assert.Equal(2, (await nginx.Server.RequestsAsync("/files/missing.bin", 2)).Count); // one HEAD, one GET: no retries
    }

    [Fact]
    public async Task ServerError_IsRetriedWithBackoff_ThenFailsWithAClearMessage()
    {
        var url = nginx.Server.Http("fail/data.bin");
        var started = DateTime.UtcNow;

        var error = await Assert.ThrowsAsync<OriginException>(() => nginx.Client.OpenRangeAsync(url, 0, 1000, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.Unavailable, error.Kind);
        Assert.Equal(503, error.StatusCode);
        Assert.Equal($"origin unavailable (HTTP 503 Service Temporarily Unavailable): {url}; gave up after 4 attempts", error.Message);
        Assert.Equal(4, (await nginx.Server.RequestsAsync("/fail/data.bin", 4)).Count(r => r.Method == "GET"));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ClientError_IsNotRetried_AndHeadersArePassedThrough()
    {
        var url = nginx.Server.Http("private/small.bin");

        var denied = await Assert.ThrowsAsync<OriginException>(() => nginx.Client.ReadRangeAsync(url, 0, new byte[10], Fast)).WaitAsync(Timeouts.Test);
        var withHeader = Fast.WithHeaders(["X-Token: secret"]);
        var stat = await nginx.Client.StatAsync(url, withHeader).WaitAsync(Timeouts.Test);
        var bytes = await TestData.ReassembleAsync(nginx.Client, url, nginx.Small.Length, 30_000, 2, withHeader).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.AccessDenied, denied.Kind);
        Assert.StartsWith("access denied by origin (HTTP 403 Forbidden): ", denied.Message, StringComparison.Ordinal);
        Assert.Single(await nginx.Server.RequestsAsync("/private/small.bin", 5), r => r.Status == 403);
        Assert.Equal(nginx.Small.Length, stat.Size);
        Assert.Equal(TestData.Sha256(nginx.Small), TestData.Sha256(bytes));
    }

    [Fact]
    public async Task UserInfo_IsSentAsBasicAuthentication_AndNeverShownInErrors()
    {
        var good = new Uri($"http://{NginxServer.BasicUser}:{NginxServer.BasicPassword}@127.0.0.1:{nginx.Server.HttpPort}/basic/small.bin");
        var bad = new Uri($"http://{NginxServer.BasicUser}:wrong-pa55word@127.0.0.1:{nginx.Server.HttpPort}/basic/small.bin");

        var piece = new byte[1000];
        await nginx.Client.ReadRangeAsync(good, 500, piece, Fast).WaitAsync(Timeouts.Test);
        var error = await Assert.ThrowsAsync<OriginException>(() => nginx.Client.StatAsync(bad, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(nginx.Small.AsSpan(500, 1000).ToArray(), piece);
        Assert.Equal(OriginErrorKind.AccessDenied, error.Kind);
        Assert.DoesNotContain("wrong-pa55word", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(NginxServer.BasicUser, error.Message, StringComparison.Ordinal);
        Assert.Contains("http://***@127.0.0.1:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redirects_AreFollowed()
    {
        var url = nginx.Server.Http("redirect/data.bin");

        var stat = await nginx.Client.StatAsync(url, Fast).WaitAsync(Timeouts.Test);
        var piece = new byte[4096];
        await nginx.Client.ReadRangeAsync(url, 2_000_000, piece, Fast).WaitAsync(Timeouts.Test);

        Assert.Equal(NginxFixture.DataSize, stat.Size);
        Assert.True(stat.SupportsRanges);
        Assert.Equal(nginx.Data.AsSpan(2_000_000, 4096).ToArray(), piece);
        Assert.Contains(await nginx.Server.RequestsAsync("/redirect/data.bin", 2), r => r.Status == 302);
    }

    [Fact]
    public async Task RangeBeyondTheEnd_FailsAtOnce()
    {
        var error = await Assert.ThrowsAsync<OriginException>(
            () => nginx.Client.OpenRangeAsync(nginx.Server.Http("files/small.bin"), nginx.Small.Length + 10, 100, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.RangeNotSatisfiable, error.Kind);
        Assert.Contains($"({nginx.Small.Length} bytes)", error.Message, StringComparison.Ordinal);
        Assert.Single(await nginx.Server.RequestsAsync("/files/small.bin", 1));
    }

    [Fact]
    public async Task EmptyObject_HasSizeZero()
    {
        var url = nginx.Server.Http("files/empty.bin");

        var stat = await nginx.Client.StatAsync(url, Fast).WaitAsync(Timeouts.Test);
        await using var stream = await nginx.Client.OpenRangeAsync(url, 0, null, Fast).WaitAsync(Timeouts.Test);

        Assert.Equal(0, stat.Size);
        Assert.Empty(await TestData.ReadAllAsync(stream));
    }

    [Fact]
    public async Task Https_WithAnUntrustedCertificate_FailsAtOnceWithATlsError()
    {
        using var registry = OriginRegistry.CreateDefault();
        var client = new OriginClient(registry);

        var error = await Assert.ThrowsAsync<OriginException>(() => client.StatAsync(nginx.Server.Https("files/data.bin"), Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.Tls, error.Kind);
        Assert.DoesNotContain("gave up", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Https_WithTheTrustedCaButAnotherHostName_FailsTheHostCheck()
    {
        var url = new Uri($"https://localhost:{nginx.Server.HttpsPort}/files/data.bin");

        var error = await Assert.ThrowsAsync<OriginException>(() => nginx.Client.StatAsync(url, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.Tls, error.Kind);
    }
}
