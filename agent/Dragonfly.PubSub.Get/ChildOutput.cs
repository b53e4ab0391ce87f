using System.Diagnostics;

namespace Dragonfly.PubSub.Get;

/// <summary>
/// Reads the one-shot agent's stdout and stderr for as long as it runs (an unread pipe would block
/// it once full): notices its ready line, keeps its last error line for dfget's own message, and
/// with --verbose shows everything on dfget's stderr (stdout carries dfget's result).
/// </summary>
internal sealed class ChildOutput
{
    private const string ReadyPrefix = "dfagent ready ";
    private const string ErrorPrefix = "dfagent: ";

    private readonly TaskCompletionSource<bool> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _verbose;
    private readonly Task _stdout;
    private readonly Task _stderr;
    private volatile string? _lastError;

    public ChildOutput(Process process, bool verbose)
    {
        _verbose = verbose;
        _stdout = PumpAsync(process.StandardOutput, isStdout: true);
        _stderr = PumpAsync(process.StandardError, isStdout: false);
    }

    /// <summary>The agent's last line on stderr, without its "dfagent: " prefix; null when it printed none.</summary>
    public string? LastError => _lastError;

    /// <summary>True once the agent printed its ready line; false when it ended without one.</summary>
    public Task<bool> WaitForReadyAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    /// <summary>Waits until both pipes reached their end (after the process exited).</summary>
    public async Task DrainAsync()
    {
        try
        {
            await Task.WhenAll(_stdout, _stderr).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A grandchild holding the pipe open: nothing more of interest will come.
        }
    }

    private async Task PumpAsync(StreamReader reader, bool isStdout)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                if (isStdout && line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
                {
                    _ready.TrySetResult(true);
                }
                else if (!isStdout && line.Trim().Length > 0)
                {
                    _lastError = line.StartsWith(ErrorPrefix, StringComparison.Ordinal) ? line[ErrorPrefix.Length..] : line;
                }
                if (_verbose)
                {
                    await Console.Error.WriteLineAsync(line).ConfigureAwait(false);
                }
            }
        }
        catch (IOException)
        {
            // The pipe broke with the process: same as its end.
        }
        finally
        {
            if (isStdout)
            {
                _ready.TrySetResult(false);
            }
        }
    }
}
