namespace Dragonfly.PubSub.Origins;

/// <summary>
/// Retries of transient origin failures with exponential backoff, bounded in count and in time.
/// One operation (a stat, or one range stream including every resume after a cut) gets at most
/// <see cref="MaxAttempts"/> attempts and gives up once <see cref="MaxElapsed"/> would be exceeded.
/// </summary>
public sealed record OriginRetryPolicy
{
    public static OriginRetryPolicy Default { get; } = new();

    /// <summary>One attempt, no retries.</summary>
    public static OriginRetryPolicy None { get; } = new() { MaxAttempts = 1 };

    /// <summary>Attempts in total, the first included.</summary>
    public int MaxAttempts { get; init; } = 5;

    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>No retry starts later than this after the operation began.</summary>
    public TimeSpan MaxElapsed { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Each delay is randomly shortened by up to this fraction, so many clients do not retry in step.</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>The delay before attempt <paramref name="failures"/> + 1, given a uniform random sample in [0, 1).</summary>
    public TimeSpan DelayAfter(int failures, double sample)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        var exponential = InitialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30));
        var capped = Math.Min(exponential, MaxDelay.TotalMilliseconds);
        var jittered = capped * (1 - Math.Clamp(Jitter, 0, 1) * Math.Clamp(sample, 0, 1));
        return TimeSpan.FromMilliseconds(jittered);
    }
}
