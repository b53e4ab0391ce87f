using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Tests.Swarm;

public sealed class SchedulerMetricsTests
{
    [Theory]
    [InlineData("NeedParents", "need_parents")]
    [InlineData("PiecesFinished", "pieces_finished")]
    [InlineData("Parents", "parents")]
    [InlineData("Hello", "hello")]
    public void SnakeCase_WritesTheOneofCaseAsALabelValue(string name, string expected) =>
        Assert.Equal(expected, SchedulerMetrics.SnakeCase(name));

    [Fact]
    public void CountSent_AndCountReceived_CountEachEventUnderItsKind()
    {
        var needParents = SchedulerMetrics.Sent.WithLabels("need_parents");
        var pieceAvailable = SchedulerMetrics.Received.WithLabels("piece_available");
        var (needBefore, availableBefore) = (needParents.Value, pieceAvailable.Value);

        SchedulerMetrics.CountSent(new PeerEvent { NeedParents = new NeedParents { Digest = "sha256:x" } });
        SchedulerMetrics.CountSent(new PeerEvent { NeedParents = new NeedParents { Digest = "sha256:x" } });
        SchedulerMetrics.CountReceived(new SchedulerEvent { PieceAvailable = new PieceAvailable { Digest = "sha256:x", PeerId = "p" } });
        SchedulerMetrics.CountSent(new PeerEvent()); // no event: not counted anywhere

        // Other tests of this process may count too: at least this test's events are there.
        Assert.True(needParents.Value - needBefore >= 2);
        Assert.True(pieceAvailable.Value - availableBefore >= 1);
        Assert.DoesNotContain(SchedulerMetrics.Sent.GetAllLabelValues(), labels => labels.Contains("none"));
    }
}
