using Dragonfly.PubSub.Origins.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Origins.Tests;

/// <summary>Retries, resume and timeouts of <see cref="OriginClient"/> over an in-memory origin: no network, no real waiting.</summary>
public sealed class OriginClientTests
{
    private static readonly Uri Url = new("mem://origin/object.bin");
    private static readonly byte[] Data = TestData.Bytes(10_000, seed: 41);

    private static readonly OriginRequestOptions NoWait = new()
    {
        Retry = new OriginRetryPolicy { MaxAttempts = 3, InitialDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero },
    };

    [Fact]
    public async Task OpenRange_WhenTheConnectionIsCut_ResumesAtTheNextByte()
    {
        var origin = new ScriptedOrigin(Data) { CutAfter = open => open < 2 ? 1000 : null };
        var client = Client(origin);

        await using var stream = await client.OpenRangeAsync(Url, 500, 5000, NoWait).WaitAsync(Timeouts.Test);
        var bytes = await TestData.ReadAllAsync(stream).WaitAsync(Timeouts.Test);

        Assert.Equal(Data.AsSpan(500, 5000).ToArray(), bytes);
        Assert.Equal([(500L, (long?)5000L), (1500L, 4000L), (2500L, 3000L)], origin.Opens.ToArray());
    }

    [Fact]
    public async Task OpenRange_WithoutLength_ResumesToTheEnd()
    {
        var origin = new ScriptedOrigin(Data) { CutAfter = open => open == 0 ? 7 : null };

        await using var stream = await Client(origin).OpenRangeAsync(Url, 3, null, NoWait).WaitAsync(Timeouts.Test);
        var bytes = await TestData.ReadAllAsync(stream).WaitAsync(Timeouts.Test);

        Assert.Equal(Data.AsSpan(3).ToArray(), bytes);
        Assert.Equal([(3L, (long?)null), (10L, null)], origin.Opens.ToArray());
    }

    [Fact]
    public async Task TransientFailures_AreRetriedUpToMaxAttempts_ThenReportedWithTheCount()
    {
        var origin = new ScriptedOrigin(Data) { FailOpen = _ => new OriginException(OriginErrorKind.Unavailable, "origin unavailable (HTTP 503): mem://origin/object.bin", statusCode: 503) };

        var error = await Assert.ThrowsAsync<OriginException>(() => Client(origin).OpenRangeAsync(Url, 0, 10, NoWait)).WaitAsync(Timeouts.Test);

        Assert.Equal(3, origin.Opens.Count);
        Assert.Equal("origin unavailable (HTTP 503): mem://origin/object.bin; gave up after 3 attempts", error.Message);
        Assert.Equal(OriginErrorKind.Unavailable, error.Kind);
        Assert.Equal(503, error.StatusCode);
    }

    [Fact]
    public async Task CutsDuringTheBody_CountAgainstTheSameBudget()
    {
        var origin = new ScriptedOrigin(Data) { CutAfter = _ => 100 };
        await using var stream = await Client(origin).OpenRangeAsync(Url, 0, null, NoWait).WaitAsync(Timeouts.Test);

        var error = await Assert.ThrowsAsync<OriginException>(() => TestData.ReadAllAsync(stream)).WaitAsync(Timeouts.Test);

        Assert.Equal(3, origin.Opens.Count);
        Assert.Equal(OriginErrorKind.Unavailable, error.Kind);
        Assert.Equal("connection to origin lost (connection reset by peer): mem://origin/object.bin; gave up after 3 attempts", error.Message);
    }

    [Fact]
    public async Task PermanentFailures_AreNotRetried()
    {
        var notFound = new OriginException(OriginErrorKind.NotFound, "not found at origin: mem://origin/object.bin");
        var origin = new ScriptedOrigin(Data) { FailOpen = _ => notFound, FailStat = _ => notFound };
        var client = Client(origin);

        Assert.Same(notFound, await Assert.ThrowsAsync<OriginException>(() => client.OpenRangeAsync(Url, 0, 10, NoWait)).WaitAsync(Timeouts.Test));
        Assert.Same(notFound, await Assert.ThrowsAsync<OriginException>(() => client.StatAsync(Url, NoWait)).WaitAsync(Timeouts.Test));
        Assert.Single(origin.Opens);
        Assert.Equal(1, origin.StatCalls);
    }

    [Fact]
    public async Task AStalledBody_TimesOutAndResumes()
    {
        var time = new FakeTimeProvider();
        var origin = new ScriptedOrigin(Data) { StallAfter = open => open == 0 ? 2000 : null };
        var logger = new TestLogger<OriginClient>();
        var client = new OriginClient(Registry(origin), time, logger);
        var options = NoWait with { IdleTimeout = TimeSpan.FromMilliseconds(50) };

        var piece = new byte[6000];
        var reading = client.ReadRangeAsync(Url, 1000, piece, options);
        // The idle timer is armed before each read, so once the read waits at the stall it is due in 50 ms.
        await origin.Stalled.WaitAsync(Timeouts.Test);
        time.Advance(TimeSpan.FromMilliseconds(50));
        var read = await reading.WaitAsync(Timeouts.Test);

        Assert.Equal(6000, read);
        Assert.Equal(Data.AsSpan(1000, 6000).ToArray(), piece);
        Assert.Equal([(1000L, (long?)6000L), (3000L, 4000L)], origin.Opens.ToArray());
        Assert.Contains(logger.Lines, line => line.Contains("origin stopped sending data", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnOriginIgnoringRanges_IsNotTimedOutWhileItsBytesBeforeTheOffsetAreSkipped()
    {
        // 9 reads of 1000 bytes, 25 ms each (of the fake clock), before the piece: longer than the
        // idle timeout in total, but each read is well within it.
        var time = new FakeTimeProvider();
        var origin = new ScriptedOrigin(Data) { IgnoresRanges = true, ReadChunk = 1000, OnRead = () => time.Advance(TimeSpan.FromMilliseconds(25)) };
        var options = NoWait with { IdleTimeout = TimeSpan.FromMilliseconds(150) };

        var piece = new byte[500];
        var read = await new OriginClient(Registry(origin), time).ReadRangeAsync(Url, 9000, piece, options).WaitAsync(Timeouts.Test);

        Assert.Equal(500, read);
        Assert.Equal(Data.AsSpan(9000, 500).ToArray(), piece);
        Assert.Single(origin.Opens);
    }

    [Fact]
    public async Task ReadRange_AtTheEndOfTheObject_ReturnsWhatIsThere()
    {
        var piece = new byte[4096];

        var read = await Client(new ScriptedOrigin(Data)).ReadRangeAsync(Url, 8192, piece, NoWait).WaitAsync(Timeouts.Test);

        Assert.Equal(10_000 - 8192, read);
        Assert.Equal(Data.AsSpan(8192).ToArray(), piece.AsSpan(0, read).ToArray());
    }

    [Fact]
    public async Task Retries_WaitTheBackoffOfTheInjectedClock()
    {
        var time = new TimerCountingTimeProvider();
        var origin = new ScriptedOrigin(Data) { FailStat = stat => stat < 2 ? new IOException("connection refused") : null };
        var client = new OriginClient(Registry(origin), time);
        var options = new OriginRequestOptions
        {
            Retry = new OriginRetryPolicy { MaxAttempts = 5, InitialDelay = TimeSpan.FromSeconds(1), Jitter = 0 },
        };

        // Each failed attempt arms one backoff timer; advancing before it exists would be lost.
        var stat = client.StatAsync(Url, options);
        await time.WaitForTimersAsync(1);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(1, origin.StatCalls);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await time.WaitForTimersAsync(2);
        Assert.Equal(2, origin.StatCalls);
        time.Advance(TimeSpan.FromMilliseconds(1999)); // the second delay is twice the first
        Assert.Equal(2, origin.StatCalls);
        time.Advance(TimeSpan.FromMilliseconds(1));

        var result = await stat.WaitAsync(Timeouts.Test);
        Assert.Equal(Data.Length, result.Size);
        Assert.Equal(3, origin.StatCalls);
    }

    [Fact]
    public async Task Retries_StopWhenMaxElapsedWouldBeExceeded()
    {
        var time = new FakeTimeProvider();
        var origin = new ScriptedOrigin(Data)
        {
            FailOpen = _ =>
            {
                time.Advance(TimeSpan.FromSeconds(10)); // each attempt takes 10 s to fail
                return new OriginException(OriginErrorKind.Timeout, "origin did not answer within 10 s: mem://origin/object.bin");
            },
        };
        var client = new OriginClient(Registry(origin), time);
        var options = new OriginRequestOptions
        {
            Retry = new OriginRetryPolicy { MaxAttempts = 100, InitialDelay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, MaxElapsed = TimeSpan.FromSeconds(25) },
        };

        var error = await Assert.ThrowsAsync<OriginException>(() => client.OpenRangeAsync(Url, 0, 1, options)).WaitAsync(Timeouts.Test);

        Assert.Equal(3, origin.Opens.Count);
        Assert.Equal(OriginErrorKind.Timeout, error.Kind);
        Assert.EndsWith("; gave up after 3 attempts", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DelayAfter_GrowsExponentially_UpToMaxDelay_AndJitterOnlyShortensIt()
    {
        var policy = new OriginRetryPolicy { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), Jitter = 0.2 };

        var delays = Enumerable.Range(1, 6).Select(n => policy.DelayAfter(n, sample: 0).TotalMilliseconds).ToArray();

        Assert.Equal([100, 200, 400, 800, 1000, 1000], delays);
        Assert.Equal(80, policy.DelayAfter(1, sample: 1).TotalMilliseconds, precision: 6);
        Assert.Equal(800, policy.DelayAfter(6, sample: 1).TotalMilliseconds, precision: 6);
    }

    [Fact]
    public async Task UnknownScheme_FailsWithTheSupportedOnes()
    {
        using var registry = OriginRegistry.CreateDefault(new OriginRegistryOptions { S3 = new() });
        var client = new OriginClient(registry);

        var error = await Assert.ThrowsAsync<OriginException>(() => client.StatAsync(new Uri("gopher://origin/x?Signature=abc"))).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.InvalidUrl, error.Kind);
        Assert.Equal("unsupported URL scheme 'gopher' in gopher://origin/x?Signature=***; supported: file, ftp, http, https, s3", error.Message);
    }

    [Fact]
    public async Task Register_AddsASchemeOrReplacesOne()
    {
        using var registry = OriginRegistry.CreateDefault(new OriginRegistryOptions { S3 = new() });
        var memory = new ScriptedOrigin(Data);
        registry.Register(memory);

        var stat = await new OriginClient(registry).StatAsync(Url).WaitAsync(Timeouts.Test);

        Assert.Equal(Data.Length, stat.Size);
        Assert.Equal(["file", "ftp", "http", "https", "mem", "s3"], registry.Schemes);
        Assert.Same(memory, registry.Resolve(new Uri("MEM://other/y")));
    }

    private static OriginClient Client(ScriptedOrigin origin) => new(Registry(origin));

    private static OriginRegistry Registry(ScriptedOrigin origin)
    {
        var registry = new OriginRegistry();
        registry.Register(origin);
        return registry;
    }
}
