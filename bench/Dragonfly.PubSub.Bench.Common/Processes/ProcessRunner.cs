using System.Diagnostics;

namespace Dragonfly.PubSub.Bench.Common.Processes;

/// <summary>Starts child processes with their output redirected, and runs short commands to their end, bounded in time.</summary>
public static class ProcessRunner
{
    /// <summary>No shell; stdout and stderr redirected (the caller must drain them: a full pipe stalls the child).</summary>
    public static ProcessStartInfo RedirectedStartInfo(string executable, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        return info;
    }

    /// <summary>Runs <paramref name="argv"/>; a timeout names the whole command line.</summary>
    public static Task<CommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken cancel) =>
        RunAsync(argv[0], argv.Skip(1), $"'{string.Join(' ', argv)}'", timeout, cancel);

    /// <summary>Runs <paramref name="executable"/>; a timeout names its file name.</summary>
    public static Task<CommandResult> RunAsync(string executable, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancel) =>
        RunAsync(executable, arguments, Path.GetFileName(executable), timeout, cancel);

    /// <summary>Runs a command that must succeed; else one line saying which and why.</summary>
    public static async Task<CommandResult> RunCheckedAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken cancel)
    {
        var result = await RunAsync(argv, timeout, cancel);
        return result.ExitCode == 0
            ? result
            : throw new InvalidOperationException($"'{string.Join(' ', argv)}' failed with exit code {result.ExitCode}: {result.LastLine}");
    }

    /// <summary>
    /// Measured from just before the start to the exit; killed (with its children) when
    /// <paramref name="timeout"/> passes or <paramref name="cancel"/> fires.
    /// </summary>
    private static async Task<CommandResult> RunAsync(string executable, IEnumerable<string> arguments, string what, TimeSpan timeout, CancellationToken cancel)
    {
        using var process = new Process { StartInfo = RedirectedStartInfo(executable, arguments) };
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
                throw new TimeoutException($"{what} did not finish within {timeout.TotalSeconds:0} s");
            }
            var elapsed = clock.Elapsed;
            return new CommandResult(process.ExitCode, elapsed, await stdout, await stderr);
        }
        finally
        {
            LiveProcesses.Remove(process.Id);
        }
    }
}
