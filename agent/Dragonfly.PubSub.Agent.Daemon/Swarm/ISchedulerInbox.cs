using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>
/// Where the scheduler session puts the events of one task (parents, piece news, piece digests,
/// FetchSource, TaskSourced, TaskFailed). <see cref="Deliver"/> is called on the session's reading
/// thread: it must only enqueue.
/// </summary>
public interface ISchedulerInbox
{
    void Deliver(SchedulerEvent message);
}
