using Dragonfly.PubSub.Origins.Tests.Infrastructure;

namespace Dragonfly.PubSub.Origins.Tests.S3;

public sealed class S3OriginTests(S3Fixture s3) : IClassFixture<S3Fixture>
{
    private static readonly OriginRequestOptions Fast = Timeouts.FastRetries;
    private static readonly Uri Object = new($"s3://{S3Server.Bucket}/releases/app%20v1.bin");

    [Fact]
    public async Task Stat_ReportsSizeETagAndModificationTime()
    {
        var stat = await s3.Client.StatAsync(Object, Fast).WaitAsync(Timeouts.Test);

        Assert.Equal(S3Fixture.DataSize, stat.Size);
        Assert.True(stat.SupportsRanges);
        Assert.NotNull(stat.ETag);
        Assert.NotNull(stat.LastModified);
    }

    [Fact]
    public async Task RangedGets_ReassembleToTheSameBytes()
    {
        var bytes = await TestData.ReassembleAsync(s3.Client, Object, S3Fixture.DataSize, 700_001, inFlight: 3, Fast).WaitAsync(Timeouts.Test);

        Assert.Equal(TestData.Sha256(s3.Data), TestData.Sha256(bytes));
    }

    [Fact]
    public async Task OpenRange_WithoutLength_ReadsToTheEnd()
    {
        await using var stream = await s3.Client.OpenRangeAsync(Object, 2_000_000, null, Fast).WaitAsync(Timeouts.Test);

        var bytes = await TestData.ReadAllAsync(stream).WaitAsync(Timeouts.Test);

        Assert.Equal(s3.Data.AsSpan(2_000_000).ToArray(), bytes);
    }

    [Fact]
    public async Task MissingKey_FailsAtOnceAsNotFound()
    {
        var url = new Uri($"s3://{S3Server.Bucket}/releases/missing.bin");

        var stat = await Assert.ThrowsAsync<OriginException>(() => s3.Client.StatAsync(url, Fast)).WaitAsync(Timeouts.Test);
        var open = await Assert.ThrowsAsync<OriginException>(() => s3.Client.OpenRangeAsync(url, 0, 100, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal("not found at origin: s3://artifacts/releases/missing.bin", stat.Message);
        Assert.Equal(OriginErrorKind.NotFound, open.Kind);
    }

    [Fact]
    public async Task UnknownAccessKey_IsAccessDenied_AndTheSecretIsNeverShown()
    {
        var options = s3.Server.Options(accessKey: "AKIAUNKNOWN", secretKey: "wr0ng-s3cret-key");
        using var registry = OriginRegistry.CreateDefault(new OriginRegistryOptions { S3 = options });
        var client = new OriginClient(registry);

        var error = await Assert.ThrowsAsync<OriginException>(() => client.OpenRangeAsync(Object, 0, 100, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.AccessDenied, error.Kind);
        Assert.StartsWith("access denied by origin (S3 403 ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wr0ng-s3cret-key", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("wr0ng-s3cret-key", options.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RangeBeyondTheEnd_FailsAtOnce()
    {
        var error = await Assert.ThrowsAsync<OriginException>(() => s3.Client.OpenRangeAsync(Object, S3Fixture.DataSize + 1, 10, Fast)).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.RangeNotSatisfiable, error.Kind);
    }
}
