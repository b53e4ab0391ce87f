namespace Dragonfly.PubSub.Client.Preheat;

/// <summary>States of a preheat job and of each of its blobs.</summary>
public static class PreheatStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    public static bool IsFinished(string? state) => state is Succeeded or Failed;
}
