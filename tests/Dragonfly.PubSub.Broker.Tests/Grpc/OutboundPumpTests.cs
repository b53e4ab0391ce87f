using System.Threading.Channels;
using Dragonfly.PubSub.Broker.Grpc;
using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Core;

namespace Dragonfly.PubSub.Broker.Tests.Grpc;

/// <summary>
/// The session writer's flushes, against a recording stream writer (the real one is Kestrel's HTTP/2
/// response; whether a write is flushed is all that differs, and only the flags show it).
/// </summary>
public sealed class OutboundPumpTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AQueuedBurst_IsWrittenInOrder_AndOnlyItsLastEventFlushes()
    {
        var queue = Channel.CreateBounded<SchedulerEvent>(100);
        for (var i = 0; i < 5; i++)
        {
            queue.Writer.TryWrite(Available(i));
        }
        queue.Writer.Complete();
        var stream = new RecordingWriter();

        await OutboundPump.RunAsync(queue.Reader, stream, CancellationToken.None).WaitAsync(Timeout);

        Assert.Equal([0, 1, 2, 3, 4], stream.Written.Select(w => w.Index));
        Assert.Equal([false, false, false, false, true], stream.Written.Select(w => w.Flushed));
    }

    [Fact]
    public async Task EventsThatArriveOneByOne_AreEachFlushedAtOnce()
    {
        var queue = Channel.CreateBounded<SchedulerEvent>(100);
        var stream = new RecordingWriter();
        using var stop = new CancellationTokenSource();
        var pump = OutboundPump.RunAsync(queue.Reader, stream, stop.Token);

        for (var i = 0; i < 3; i++)
        {
            queue.Writer.TryWrite(Available(i));
            // The event must be on the wire before the next one exists: nothing is held back waiting for company.
            var index = i;
            await stream.WaitForAsync(w => w.Count == index + 1).WaitAsync(Timeout);
            Assert.True(stream.Written[i].Flushed, $"event {i} was written without a flush and nothing followed it");
        }
        queue.Writer.Complete();
        await pump.WaitAsync(Timeout);
    }

    [Fact]
    public async Task ALongQueue_IsFlushedAtLeastEveryMaxBurstEvents()
    {
        var count = OutboundPump.MaxBurst * 2 + 10;
        var queue = Channel.CreateBounded<SchedulerEvent>(count);
        for (var i = 0; i < count; i++)
        {
            queue.Writer.TryWrite(Available(i));
        }
        queue.Writer.Complete();
        var stream = new RecordingWriter();

        await OutboundPump.RunAsync(queue.Reader, stream, CancellationToken.None).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(0, count), stream.Written.Select(w => w.Index));
        var flushedAt = stream.Written.Where(w => w.Flushed).Select(w => w.Index).ToList();
        Assert.Equal([OutboundPump.MaxBurst - 1, OutboundPump.MaxBurst * 2 - 1, count - 1], flushedAt);
    }

    private static SchedulerEvent Available(int index) =>
        new() { PieceAvailable = new PieceAvailable { Digest = "sha256:" + new string('a', 64), PeerId = "p", Indexes = { index } } };

    private sealed class RecordingWriter : IServerStreamWriter<SchedulerEvent>
    {
        private readonly Lock _lock = new();
        private readonly List<(int Index, bool Flushed)> _written = [];
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public WriteOptions? WriteOptions { get; set; }

        public List<(int Index, bool Flushed)> Written
        {
            get
            {
                lock (_lock)
                {
                    return [.. _written];
                }
            }
        }

        public Task WriteAsync(SchedulerEvent message) => WriteAsync(message, CancellationToken.None);

        public Task WriteAsync(SchedulerEvent message, CancellationToken cancellationToken)
        {
            var flushed = ((WriteOptions?.Flags ?? default) & WriteFlags.BufferHint) == 0;
            lock (_lock)
            {
                _written.Add((message.PieceAvailable.Indexes[0], flushed));
                _changed.TrySetResult();
                _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            return Task.CompletedTask;
        }

        public async Task WaitForAsync(Func<List<(int Index, bool Flushed)>, bool> condition)
        {
            while (true)
            {
                Task changed;
                lock (_lock)
                {
                    if (condition(_written))
                    {
                        return;
                    }
                    changed = _changed.Task;
                }
                await changed;
            }
        }
    }
}
