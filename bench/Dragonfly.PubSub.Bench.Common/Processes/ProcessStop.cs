using System.Diagnostics;

namespace Dragonfly.PubSub.Bench.Common.Processes;

/// <summary>Stops a child by PID: SIGTERM, then a kill when it does not exit within the grace period.</summary>
public static class ProcessStop
{
    /// <summary>
    /// Returns at once when the process has already exited. <paramref name="onGraceOver"/> runs just
    /// before the kill, to say so.
    /// </summary>
    public static async Task StopAsync(Process process, TimeSpan grace, bool entireProcessTree, Action? onGraceOver = null)
    {
        if (process.HasExited)
        {
            return;
        }
        _ = LiveProcesses.Signal(process.Id, LiveProcesses.Sigterm);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            onGraceOver?.Invoke();
            process.Kill(entireProcessTree);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}
