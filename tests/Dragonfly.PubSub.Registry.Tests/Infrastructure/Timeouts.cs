namespace Dragonfly.PubSub.Registry.Tests.Infrastructure;

internal static class Timeouts
{
    /// <summary>The default bound on any await in a test, so a hang fails fast.</summary>
    public static readonly TimeSpan Test = TimeSpan.FromSeconds(30);
}
