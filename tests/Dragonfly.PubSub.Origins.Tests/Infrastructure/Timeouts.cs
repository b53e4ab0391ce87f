namespace Dragonfly.PubSub.Origins.Tests.Infrastructure;

internal static class Timeouts
{
    /// <summary>The default bound on any await in a test, so a hang fails fast.</summary>
    public static readonly TimeSpan Test = TimeSpan.FromSeconds(20);

    /// <summary>Quick retries so that failure tests stay fast but still retry for real.</summary>
    public static readonly OriginRequestOptions FastRetries = new()
    {
        Retry = new OriginRetryPolicy { MaxAttempts = 4, InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100), MaxElapsed = TimeSpan.FromSeconds(10) },
        ResponseTimeout = TimeSpan.FromSeconds(5),
        IdleTimeout = TimeSpan.FromSeconds(5),
    };
}
