using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Origins.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that counts the timers created on it, so a test can wait until
/// the code under test armed its timer (a backoff delay, an idle timeout) before advancing the clock:
/// an advance that comes first would be lost and the test would hang.
/// </summary>
internal sealed class TimerCountingTimeProvider : FakeTimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _timers;

    public int TimersCreated
    {
        get
        {
            lock (_gate)
            {
                return _timers;
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        // Counted only now: the timer is registered with the fake clock, an advance will fire it.
        List<TaskCompletionSource> reached = [];
        lock (_gate)
        {
            _timers++;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Count <= _timers)
                {
                    reached.Add(_waiters[i].Reached);
                    _waiters.RemoveAt(i);
                }
            }
        }
        foreach (var done in reached)
        {
            done.TrySetResult();
        }
        return timer;
    }

    /// <summary>Completes once at least <paramref name="count"/> timers were created; fails after <see cref="Timeouts.Test"/>.</summary>
    public async Task WaitForTimersAsync(int count)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_timers >= count)
            {
                return;
            }
            _waiters.Add((count, reached));
        }
        try
        {
            await reached.Task.WaitAsync(Timeouts.Test);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"expected {count} timers on the fake clock, {TimersCreated} were created");
        }
    }
}
