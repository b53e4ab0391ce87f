using System.Threading.Channels;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Tasks;

/// <summary>
/// One task's inbox, from the moment the task is registered until the agent stops: the scheduler
/// session routes the task's events into it, the task manager posts "run again" into it, and the
/// task's own loop is its only reader. Whatever arrives before the task's download has started
/// simply waits here, in order: nothing can arrive too early.
/// </summary>
internal sealed class TaskInbox : ISchedulerInbox
{
    private readonly Channel<TaskMessage> _messages =
        Channel.CreateUnbounded<TaskMessage>(new UnboundedChannelOptions { SingleReader = true });

    public void Deliver(SchedulerEvent message) => _messages.Writer.TryWrite(new TaskMessage.FromScheduler(message));

    /// <summary>The task should run (again): it is pending, a request retries it, or a source was assigned.</summary>
    public void RequestRun() => _messages.Writer.TryWrite(TaskMessage.RunRequested.Instance);

    public ChannelReader<TaskMessage> Reader => _messages.Reader;

    /// <summary>No more messages: the task's loop ends once it has read what is queued.</summary>
    public void Close() => _messages.Writer.TryComplete();
}
