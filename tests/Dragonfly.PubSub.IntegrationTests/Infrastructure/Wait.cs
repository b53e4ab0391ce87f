namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// Polling with a deadline: every wait in these tests ends, with a message saying what it
/// waited for and what it saw last.
/// </summary>
public static class Wait
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Polls <paramref name="probe"/> until it returns a value. Exceptions from the probe (a
    /// server not listening yet) count as "not yet"; the last one is in the timeout message.
    /// <paramref name="guard"/> runs before every poll and may throw to fail fast (a crashed process).
    /// </summary>
    public static async Task<T> ForAsync<T>(
        string what, TimeSpan timeout, Func<Task<T?>> probe, Action? guard = null, Func<string>? describe = null)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? lastError = null;
        while (true)
        {
            guard?.Invoke();
            try
            {
                if (await probe() is { } value)
                {
                    return value;
                }
                lastError = null;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException
                                          or System.Text.Json.JsonException or UnauthorizedAccessException)
            {
                lastError = e;
            }
            if (DateTime.UtcNow >= deadline)
            {
                var seen = describe?.Invoke();
                throw new TimeoutException(
                    $"timed out after {timeout.TotalSeconds:0} s waiting for {what}"
                    + (seen is null ? "" : $"; last seen: {seen}")
                    + (lastError is null ? "" : $"; last error: {lastError.GetType().Name}: {lastError.Message}"));
            }
            await Task.Delay(PollInterval);
        }
    }

    /// <summary>Polls until <paramref name="condition"/> is true.</summary>
    public static Task UntilAsync(
        string what, TimeSpan timeout, Func<Task<bool>> condition, Action? guard = null, Func<string>? describe = null) =>
        ForAsync(what, timeout, async () => await condition() ? (object)true : null, guard, describe);
}
