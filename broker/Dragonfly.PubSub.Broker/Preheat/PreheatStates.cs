namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>The <c>state</c> values of preheat jobs and their blobs.</summary>
public static class PreheatStates
{
    public const string Pending = "pending";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    public static bool IsFinished(string state) => state is Succeeded or Failed;
}
