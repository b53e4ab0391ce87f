namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>Where a task stands; stored by name in LiteDB and shown lower-case by the local API.</summary>
public enum TaskState
{
    Pending,
    Running,
    Succeeded,
    Failed,
}
