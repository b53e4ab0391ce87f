using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Client;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Agent.Tests.Tasks;

/// <summary>
/// The progress a download request streams back (dfget's lines): at most one snapshot per
/// <see cref="DownloadWaiter.ProgressGap"/>, a change of state at once, the newest held one at the end of the gap,
/// and nothing after the final snapshot.
/// </summary>
public sealed class DownloadWaiterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void PiecesWithinTheGap_AreHeld_AndTheNewestFollowsAtItsEnd()
    {
        var waiter = new DownloadWaiter("/tmp/out", time: _time);

        waiter.Progress(Snapshot(TaskStates.Running, 1));
        _time.Advance(TimeSpan.FromMilliseconds(20));
        waiter.Progress(Snapshot(TaskStates.Running, 2));
        _time.Advance(TimeSpan.FromMilliseconds(20));
        waiter.Progress(Snapshot(TaskStates.Running, 3));

        Assert.Equal([1], Drain(waiter));
        _time.Advance(DownloadWaiter.ProgressGap);
        Assert.Equal([3], Drain(waiter));
        _time.Advance(DownloadWaiter.ProgressGap * 3);
        Assert.Empty(Drain(waiter)); // nothing held: no timer left sending anything
    }

    [Fact]
    public void AChangeOfState_GoesOutAtOnce()
    {
        var waiter = new DownloadWaiter("/tmp/out", time: _time);

        waiter.Progress(Snapshot(TaskStates.Pending, 0));
        waiter.Progress(Snapshot(TaskStates.Running, 0));
        waiter.Progress(Snapshot(TaskStates.Running, 1));

        Assert.Equal([TaskStates.Pending, TaskStates.Running], DrainStates(waiter));
        _time.Advance(DownloadWaiter.ProgressGap);
        Assert.Equal([TaskStates.Running], DrainStates(waiter));
    }

    [Fact]
    public void AfterTheFinalSnapshot_AHeldProgressLineIsNeverSent()
    {
        var waiter = new DownloadWaiter("/tmp/out", time: _time);
        waiter.Progress(Snapshot(TaskStates.Running, 1));
        waiter.Progress(Snapshot(TaskStates.Running, 2)); // held

        waiter.Finish(Snapshot(TaskStates.Succeeded, 4));
        _time.Advance(DownloadWaiter.ProgressGap);
        waiter.Progress(Snapshot(TaskStates.Running, 3)); // taken before the end, delivered after it

        Assert.Equal([1, 4], Drain(waiter));
        Assert.True(waiter.Updates.Reader.Completion.IsCompleted);
    }

    /// <summary>
    /// The race behind a registry pull answered 502 although its blob had arrived (CI, 2026-12-07): the task manager
    /// notifies progress from one thread while another finishes the request; a progress line that landed between the
    /// final snapshot and the end of the stream became the reader's last word ("not finished").
    /// </summary>
    [Fact]
    public async Task ProgressRacingTheFinalSnapshot_NeverFollowsIt()
    {
        for (var round = 0; round < 300; round++)
        {
            var waiter = new DownloadWaiter(output: null);
            using var stop = new CancellationTokenSource();
            var notifying = Task.Run(() =>
            {
                // Alternating states: every call is sent at once, as Notify's are at a change of state.
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    waiter.Progress(Snapshot(i % 2 == 0 ? TaskStates.Running : TaskStates.Pending, 1));
                }
            });
            try
            {
                await Task.Delay(1);
                waiter.Finish(Snapshot(TaskStates.Succeeded, 4));
            }
            finally
            {
                await stop.CancelAsync();
                await notifying;
            }

            TaskInfo? last = null;
            await foreach (var info in waiter.Updates.Reader.ReadAllAsync())
            {
                last = info;
            }
            Assert.Equal(TaskStates.Succeeded, last?.State);
        }
    }

    private static TaskInfo Snapshot(string state, int pieces) => new()
    {
        Digest = "sha256:" + new string('a', 64), Name = "f.bin", State = state, Size = 4, CompletedPieces = pieces, TotalPieces = 4,
    };

    private static List<int> Drain(DownloadWaiter waiter) => Drain(waiter, info => info.CompletedPieces);

    private static List<string> DrainStates(DownloadWaiter waiter) => Drain(waiter, info => info.State);

    private static List<T> Drain<T>(DownloadWaiter waiter, Func<TaskInfo, T> field)
    {
        var got = new List<T>();
        while (waiter.Updates.Reader.TryRead(out var info))
        {
            got.Add(field(info));
        }
        return got;
    }
}
