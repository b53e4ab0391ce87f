using System.Diagnostics;

namespace Dragonfly.PubSub.Bench.Swarm.Processes;

/// <summary>Runs short commands (ip, tc, mktorrent, sha checks) to their end, bounded in time.</summary>
internal static class ProcessRunner
{
    public static async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken cancel)
    {
        var info = new ProcessStartInfo(argv[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in argv.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }
        using var process = new Process { StartInfo = info };
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        process.Start();
        LiveProcesses.Add(process.Id);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                cancel.ThrowIfCancellationRequested();
                throw new TimeoutException($"'{string.Join(' ', argv)}' did not finish within {timeout.TotalSeconds:0} s");
            }
            var elapsed = clock.Elapsed;
            return new CommandResult(process.ExitCode, elapsed, await stdout, await stderr);
        }
        finally
        {
            LiveProcesses.Remove(process.Id);
        }
    }

    /// <summary>Runs a command that must succeed; else one line saying which and why.</summary>
    public static async Task<CommandResult> RunCheckedAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken cancel)
    {
        var result = await RunAsync(argv, timeout, cancel);
        return result.ExitCode == 0
            ? result
            : throw new InvalidOperationException($"'{string.Join(' ', argv)}' failed with exit code {result.ExitCode}: {result.LastLine}");
    }
}
