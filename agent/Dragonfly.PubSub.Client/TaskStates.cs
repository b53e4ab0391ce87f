namespace Dragonfly.PubSub.Client;

/// <summary>The task states of the contract.</summary>
public static class TaskStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}
