using Dragonfly.PubSub.Origins.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.Origins.Tests.Http;

/// <summary>The origin dies in the middle of a transfer: each test has its own nginx to kill.</summary>
public sealed class HttpOriginFailureTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Size = 2 * 1024 * 1024;
    private NginxServer _nginx = null!;
    private OriginClient _client = null!;
    private byte[] _data = [];
    private TestLogger<OriginClient> _logger = null!;

    public async Task InitializeAsync()
    {
        // The first 256 KiB come at once, the rest at 256 KiB/s: the kill lands mid-transfer.
        _nginx = await NginxServer.StartAsync(slowRate: "256k");
        _data = _nginx.AddFile("slow/data.bin", Size, seed: 7);
        _logger = new TestLogger<OriginClient>(output);
        _client = new OriginClient(OriginRegistry.CreateDefault(), logger: _logger);
    }

    public Task DisposeAsync()
    {
        _client.Registry.Dispose();
        _nginx.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task OriginDiesMidTransfer_GivesUpAfterBoundedRetries_WithAClearError()
    {
        var url = _nginx.Http("slow/data.bin");
        await using var stream = await _client.OpenRangeAsync(url, 0, Size, Timeouts.FastRetries).WaitAsync(Timeouts.Test);
        var buffer = new byte[64 * 1024];
        var received = 0L;
        while (received < 300 * 1024)
        {
            received += await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeouts.Test);
        }

        _nginx.Kill();
        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<OriginException>(async () =>
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }).WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.Unavailable, error.Kind);
        Assert.Matches(@"^cannot reach origin \(connection failed\): http://127\.0\.0\.1:\d+/slow/data\.bin; gave up after 4 attempts$", error.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "retries are bounded in time");
    }

    [Fact]
    public async Task OriginRestartsMidTransfer_TheRangeResumesWhereItStopped()
    {
        var url = _nginx.Http("slow/data.bin");
        var patient = Timeouts.FastRetries with
        {
            // Enough attempts to outlast a restart slowed down by a loaded machine.
            Retry = Timeouts.FastRetries.Retry with
            {
                MaxAttempts = 1000, InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(200), MaxElapsed = Timeouts.Test,
            },
        };
        await using var stream = await _client.OpenRangeAsync(url, 0, Size, patient).WaitAsync(Timeouts.Test);
        var copy = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (copy.Length < 300 * 1024)
        {
            copy.Write(buffer, 0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeouts.Test));
        }

        _nginx.Kill();
        var rest = stream.CopyToAsync(copy);
        await _logger.WaitForLineAsync("cannot reach origin"); // a retry met the dead origin
        _nginx.SlowRate = null;
        await _nginx.RestartAsync().WaitAsync(Timeouts.Test);
        await rest.WaitAsync(Timeouts.Test);

        Assert.Equal(TestData.Sha256(_data), TestData.Sha256(copy.ToArray()));
        // The killed nginx never logged the first request: the restarted one logged the resumed range.
        var resumed = Assert.Single(await _nginx.RequestsAsync("/slow/data.bin", 1));
        Assert.Equal(206, resumed.Status);
        Assert.Matches($@"^bytes=[1-9]\d*-{Size - 1}$", resumed.Range);
        Assert.Contains(_logger.Lines, l => l.Contains("Resuming", StringComparison.Ordinal));
    }
}
