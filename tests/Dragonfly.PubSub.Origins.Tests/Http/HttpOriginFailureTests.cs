using Dragonfly.PubSub.Origins.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
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

    /// <summary>
    /// The backoff runs on a fake clock that only the test moves, one wait at a time: the bound on the
    /// time spent retrying is the clock time the client asked to wait, whatever the machine's load.
    /// </summary>
    [Fact]
    public async Task OriginDiesMidTransfer_GivesUpAfterBoundedRetries_WithAClearError()
    {
        var time = new BackoffClock();
        var client = new OriginClient(_client.Registry, time, _logger);
        var url = _nginx.Http("slow/data.bin");
        await using var stream = await client.OpenRangeAsync(url, 0, Size, Timeouts.FastRetries).WaitAsync(Timeouts.Test);
        var buffer = new byte[64 * 1024];
        var received = 0L;
        while (received < 300 * 1024)
        {
            received += await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeouts.Test);
        }

        _nginx.Kill();
        var reading = Assert.ThrowsAsync<OriginException>(async () =>
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        });
        var policy = Timeouts.FastRetries.Retry;
        var waited = TimeSpan.Zero;
        for (var backoff = 1; backoff < policy.MaxAttempts; backoff++)
        {
            // Either the client arms its next backoff, or it gives up.
            var armed = time.NextDelayAsync(backoff);
            await Task.WhenAny(armed, reading).WaitAsync(Timeouts.Test);
            if (!armed.IsCompleted)
            {
                break;
            }
            var delay = await armed;
            waited += delay;
            time.Advance(delay);
        }
        var error = await reading.WaitAsync(Timeouts.Test);

        Assert.Equal(OriginErrorKind.Unavailable, error.Kind);
        Assert.Matches(@"^cannot reach origin \(connection failed\): http://127\.0\.0\.1:\d+/slow/data\.bin; gave up after 4 attempts$", error.Message);
        // Retries are bounded in time: 3 backoffs between 4 attempts, none longer than MaxDelay, and no more asked for.
        Assert.Equal(policy.MaxAttempts - 1, time.Delays.Count);
        Assert.All(time.Delays, d => Assert.InRange(d, TimeSpan.FromTicks(1), policy.MaxDelay));
        Assert.True(waited <= (policy.MaxAttempts - 1) * policy.MaxDelay, $"retries are bounded in time: waited {waited.TotalMilliseconds} ms of backoff");
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

    /// <summary>
    /// A fake clock that records every delay armed on it: a timer created with a finite due time is a
    /// <c>Task.Delay</c> (a backoff); timeouts are armed later through <c>Change</c> and are not counted.
    /// </summary>
    private sealed class BackoffClock : FakeTimeProvider
    {
        private readonly Lock _gate = new();
        private readonly List<TimeSpan> _delays = [];
        private readonly List<(int Count, TaskCompletionSource<TimeSpan> Armed)> _waiters = [];

        public IReadOnlyList<TimeSpan> Delays
        {
            get
            {
                lock (_gate)
                {
                    return [.. _delays];
                }
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                return timer;
            }
            // Recorded only now: the timer is registered, an advance will fire it.
            List<TaskCompletionSource<TimeSpan>> armed = [];
            lock (_gate)
            {
                _delays.Add(dueTime);
                armed.AddRange(_waiters.Where(w => w.Count <= _delays.Count).Select(w => w.Armed));
                _waiters.RemoveAll(w => w.Count <= _delays.Count);
            }
            armed.ForEach(a => a.TrySetResult(dueTime));
            return timer;
        }

        /// <summary>The due time of the <paramref name="count"/>-th delay, once it is armed.</summary>
        public Task<TimeSpan> NextDelayAsync(int count)
        {
            var armed = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (_delays.Count >= count)
                {
                    return Task.FromResult(_delays[count - 1]);
                }
                _waiters.Add((count, armed));
            }
            return armed.Task;
        }
    }
}
