namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>A default timeout on every await in a test, so a hang fails fast instead of stalling the run.</summary>
public static class TestTimeout
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Default);

    public static Task Within(this Task task) => task.WaitAsync(Default);
}
