using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Agent.Tests.Swarm;

/// <summary>Piece reports to the broker, at most one per task and second when children poll our piece maps.</summary>
public sealed class PieceReportThrottleTests
{
    private const string Task = "sha256:task";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly List<PiecesFinished> _sent = [];
    private readonly PieceReportThrottle _throttle;

    public PieceReportThrottleTests()
    {
        _throttle = new PieceReportThrottle(TimeSpan.FromSeconds(1), _time, (_, finished) => _sent.Add(finished));
    }

    [Fact]
    public void FirstReport_GoesAtOnce_LaterOnesTogetherAtTheEndOfTheInterval()
    {
        _throttle.Add(Task, [0], ["p1"]);
        Assert.Equal([0], Assert.Single(_sent).Indexes);

        _time.Advance(TimeSpan.FromMilliseconds(300));
        _throttle.Add(Task, [1], ["p1"]);
        _throttle.Add(Task, [2, 3], ["p2", "p3"]);
        Assert.Single(_sent);

        _time.Advance(TimeSpan.FromMilliseconds(700));
        Assert.Equal(2, _sent.Count);
        Assert.Equal([1, 2, 3], _sent[1].Indexes);
        Assert.Equal(["p1", "p2", "p3"], _sent[1].Parents); // who served each piece, kept parallel
        Assert.Equal(Task, _sent[1].Digest);
    }

    [Fact]
    public void AfterAQuietInterval_TheNextReportGoesAtOnceAgain()
    {
        _throttle.Add(Task, [0], null);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        _throttle.Add(Task, [1], null);
        _time.Advance(TimeSpan.FromSeconds(1)); // [1] flushed; then a whole interval with nothing
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, _throttle.Tracked);

        _throttle.Add(Task, [5], null);

        Assert.Equal(3, _sent.Count);
        Assert.Equal([5], _sent[2].Indexes);
        Assert.Empty(_sent[2].Parents); // no parents known: the field stays empty, as from older agents
    }

    [Fact]
    public void Flush_OnLeave_SendsWhatWaitsAndForgetsTheTask()
    {
        _throttle.Add(Task, [0], null);
        _throttle.Add(Task, [1], null);

        _throttle.Flush(Task, forget: true);

        Assert.Equal([1], _sent[1].Indexes);
        Assert.Equal(0, _throttle.Tracked);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(2, _sent.Count); // the cancelled timer sends nothing more
    }

    [Fact]
    public void ATasksFirstPieces_GoEachAtOnce_ThenTheIntervalHoldsAgain()
    {
        var eager = new PieceReportThrottle(TimeSpan.FromSeconds(1), _time, (_, finished) => _sent.Add(finished), eagerPieces: 3);

        eager.Add(Task, [0], null);
        _time.Advance(TimeSpan.FromMilliseconds(100));
        eager.Add(Task, [4, 5], null);
        Assert.Equal([[0], [4, 5]], _sent.Select(s => s.Indexes.ToArray()));

        // Three pieces reported: from here on, one report per interval.
        _time.Advance(TimeSpan.FromMilliseconds(100));
        eager.Add(Task, [6], null);
        eager.Add(Task, [7], null);
        Assert.Equal(2, _sent.Count);
        _time.Advance(TimeSpan.FromMilliseconds(900));
        Assert.Equal([6, 7], _sent[2].Indexes);

        // Each task counts its own first pieces.
        eager.Add("sha256:other", [0], null);
        eager.Add("sha256:other", [1], null);
        Assert.Equal(5, _sent.Count);
    }

    [Fact]
    public void Tasks_AreThrottledEachOnItsOwn()
    {
        _throttle.Add("sha256:a", [0], null);
        _throttle.Add("sha256:b", [0], null);

        Assert.Equal(["sha256:a", "sha256:b"], _sent.Select(s => s.Digest));
    }
}
