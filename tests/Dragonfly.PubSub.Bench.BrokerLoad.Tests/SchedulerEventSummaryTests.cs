using System.Buffers;
using Dragonfly.PubSub.Bench.BrokerLoad.Agents;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Tests;

/// <summary>The simulator reads only the kind, request id and news count of each SchedulerEvent off the wire.</summary>
public sealed class SchedulerEventSummaryTests
{
    [Fact]
    public void AParentSet_GivesTheRequestItAnswers_WhereverTheFieldSits()
    {
        var parents = new ParentSet { Digest = "sha256:" + new string('a', 64), RequestId = 1234567890123, Ticket = ByteString.CopyFrom(new byte[300]) };
        for (var i = 0; i < 16; i++)
        {
            parents.Parents.Add(new Parent { PeerId = $"peer-{i}", Host = "127.0.0.1", Port = 1024 + i, Bitmap = ByteString.CopyFrom(new byte[128]) });
        }

        var summary = Summarize(new SchedulerEvent { Parents = parents });

        Assert.Equal(SchedulerEvent.EventOneofCase.Parents, summary.Kind);
        // request_id (field 3) comes after the parents (field 2) and before the ticket (field 4).
        Assert.Equal(1234567890123ul, summary.RequestId);
    }

    [Fact]
    public void APushedParentSet_AnswersNoRequest()
    {
        var summary = Summarize(new SchedulerEvent { Parents = new ParentSet { Digest = "d", Parents = { new Parent { PeerId = "p" } } } });

        Assert.Equal(SchedulerEvent.EventOneofCase.Parents, summary.Kind);
        Assert.Equal(0ul, summary.RequestId);
    }

    [Fact]
    public void APieceAvailable_CountsItsOwnParentAndEveryMergedOne()
    {
        var news = new PieceAvailable { Digest = "d", PeerId = "p", Indexes = { 1, 2 } };
        news.More.Add(new PieceHolder { PeerId = "q", Indexes = { 3 } });
        news.More.Add(new PieceHolder { PeerId = "r", Indexes = { 4, 5 } });

        var summary = Summarize(new SchedulerEvent { PieceAvailable = news });

        Assert.Equal(SchedulerEvent.EventOneofCase.PieceAvailable, summary.Kind);
        Assert.Equal(3, summary.PieceNews);
    }

    [Fact]
    public void OtherEvents_KeepTheirKind()
    {
        Assert.Equal(SchedulerEvent.EventOneofCase.Welcome, Summarize(new SchedulerEvent { Welcome = new Welcome { BrokerId = "b" } }).Kind);
        // An empty Welcome is still a Welcome: its field is present with length 0.
        Assert.Equal(SchedulerEvent.EventOneofCase.Welcome, Summarize(new SchedulerEvent { Welcome = new Welcome() }).Kind);
        Assert.Equal(SchedulerEvent.EventOneofCase.TaskFailed, Summarize(new SchedulerEvent { TaskFailed = new TaskFailed() }).Kind);
        Assert.Equal(SchedulerEvent.EventOneofCase.None, Summarize(new SchedulerEvent()).Kind);
    }

    [Fact]
    public void APayloadInSeveralSegments_ReadsAsOne()
    {
        var bytes = new SchedulerEvent { Parents = new ParentSet { Digest = "d", RequestId = 77, Parents = { new Parent { PeerId = "p", Host = "h" } } } }.ToByteArray();
        var first = new Segment(bytes.AsMemory(0, 5));
        var last = first.Append(bytes.AsMemory(5));

        var summary = SchedulerEventSummary.Parse(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));

        Assert.Equal(77ul, summary.RequestId);
    }

    private static SchedulerEventSummary Summarize(SchedulerEvent message) =>
        SchedulerEventSummary.Parse(new ReadOnlySequence<byte>(message.ToByteArray()));

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
