using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Tasks;

/// <summary>What a task's inbox carries.</summary>
internal abstract record TaskMessage
{
    private TaskMessage()
    {
    }

    /// <summary>An event the scheduler sent about this task.</summary>
    public sealed record FromScheduler(SchedulerEvent Event) : TaskMessage;

    /// <summary>The task manager wants the task run (again).</summary>
    public sealed record RunRequested : TaskMessage
    {
        public static RunRequested Instance { get; } = new();
    }
}
