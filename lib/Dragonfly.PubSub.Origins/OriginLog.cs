using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Origins;

/// <summary>Source-generated log messages of the origin clients (event ids 3000–3099). URLs are always redacted.</summary>
internal static partial class OriginLog
{
    [LoggerMessage(3000, LogLevel.Warning, "Origin request for {Url} failed (attempt {Attempt} of {MaxAttempts}), retrying in {DelayMs} ms: {Reason}")]
    public static partial void Retrying(ILogger logger, string url, int attempt, int maxAttempts, long delayMs, string reason);

    [LoggerMessage(3001, LogLevel.Information, "Resuming {Url} at byte {Offset}")]
    public static partial void Resuming(ILogger logger, string url, long offset);

    [LoggerMessage(3002, LogLevel.Warning, "Giving up on {Url} after {Attempts} attempts: {Reason}")]
    public static partial void GaveUp(ILogger logger, string url, int attempts, string reason);
}
