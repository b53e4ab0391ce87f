using System.Collections.Concurrent;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>An inbox that keeps what the session delivered, in order.</summary>
public sealed class RecordingInbox : ISchedulerInbox
{
    public ConcurrentQueue<SchedulerEvent> Received { get; } = new();

    public void Deliver(SchedulerEvent message) => Received.Enqueue(message);
}
