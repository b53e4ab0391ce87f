namespace Dragonfly.PubSub.Testing;

internal static class Timeouts
{
    /// <summary>The default bound on any await in a test, so a hang fails fast.</summary>
    public static readonly TimeSpan Test = TimeSpan.FromSeconds(30);
}
