namespace Dragonfly.PubSub.Agent.Tests.Fuzzing;

/// <summary>
/// How long and how hard the parser fuzz tests (issue 11) run: a few seconds of generated input each, and
/// an outer deadline that turns a hang into a failure instead of a stuck suite.
/// </summary>
internal static class FuzzBounds
{
    /// <summary>Seconds CsCheck generates input for one property.</summary>
    public const int Seconds = 3;

    /// <summary>A run that has not ended after this long hangs somewhere.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="fuzz"/> on a worker thread and fails when it outlives <see cref="Deadline"/>.</summary>
    public static async Task WithinDeadlineAsync(Action fuzz)
    {
        var run = Task.Run(fuzz);
        var finished = await Task.WhenAny(run, Task.Delay(Deadline));
        Assert.True(finished == run, $"the fuzz run did not end within {Deadline.TotalSeconds:0} s: a parser hangs on some input");
        await run; // rethrows the property's failure, with CsCheck's seed to replay it
    }
}
