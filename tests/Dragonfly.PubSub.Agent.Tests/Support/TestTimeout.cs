namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>A default timeout on every await in a test, so a hang fails fast instead of stalling the run.</summary>
public static class TestTimeout
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Default);

    public static Task Within(this Task task) => task.WaitAsync(Default);

    /// <summary>
    /// Polls until <paramref name="condition"/> holds, at most <see cref="Default"/>: for counters a
    /// server bumps after its last byte, which the client may already have read.
    /// </summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Default;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what} did not happen within {Default.TotalSeconds:0} s");
            await Task.Delay(20);
        }
    }
}
