using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Origins;

/// <summary>The retry budget of one operation: counts failures, waits the backoff, gives up when spent.</summary>
internal sealed class RetryState(OriginRetryPolicy policy, TimeProvider time, Random random, ILogger logger)
{
    private readonly long _started = time.GetTimestamp();
    private int _failures;

    public int Attempts => _failures + 1;

    /// <summary>True for failures a retry may cure: transient origin errors, cut connections, stalls.</summary>
    public static bool IsRetryable(Exception error, CancellationToken cancellationToken) => error switch
    {
        OriginException origin => origin.IsTransient,
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        IOException or HttpRequestException or SocketException => true,
        _ => false,
    };

    /// <summary>Records <paramref name="error"/>, then waits before the next attempt or throws the final error.</summary>
    public async Task FailedAsync(Uri url, Exception error, CancellationToken cancellationToken)
    {
        _failures++;
        var redacted = OriginUrl.Redact(url);
        var reason = Reason(error, redacted);
        var delay = policy.DelayAfter(_failures, random.NextDouble());
        if (_failures >= policy.MaxAttempts || time.GetElapsedTime(_started) + delay > policy.MaxElapsed)
        {
            OriginLog.GaveUp(logger, redacted, _failures, reason.Message);
            var attempts = _failures == 1 ? "1 attempt" : $"{_failures} attempts";
            throw new OriginException(reason.Kind, $"{reason.Message}; gave up after {attempts}", redacted, (error as OriginException)?.StatusCode, error);
        }
        OriginLog.Retrying(logger, redacted, _failures, policy.MaxAttempts, (long)delay.TotalMilliseconds, reason.Message);
        await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
    }

    private static (OriginErrorKind Kind, string Message) Reason(Exception error, string redacted)
    {
        Debug.Assert(error is not OriginException { IsTransient: false });
        return error switch
        {
            OriginException origin => (origin.Kind, origin.Message),
            OperationCanceledException => (OriginErrorKind.Timeout, $"origin stopped sending data: {redacted}"),
            // IOException messages name no credentials: they come from sockets and HTTP framing.
            _ => (OriginErrorKind.Unavailable, $"connection to origin lost ({error.Message.TrimEnd('.')}): {redacted}"),
        };
    }
}
