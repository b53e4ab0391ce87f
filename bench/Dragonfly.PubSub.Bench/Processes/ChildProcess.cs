using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Dragonfly.PubSub.Bench.Processes;

/// <summary>
/// A long-running process the benchmark started (broker, agent, nginx). It keeps the last lines
/// the process wrote so that a failure can say why, and stops it by PID: SIGTERM first, SIGKILL
/// (of the whole tree) when it does not exit in time.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private const int Sigterm = 15;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly StreamWriter? _log;
    private bool _logClosed;

    private ChildProcess(string name, Process process, StreamWriter? log)
    {
        Name = name;
        _process = process;
        _log = log;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>User plus system CPU time the process has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Starts a process; everything it prints also goes to <paramref name="logPath"/> when given.</summary>
    public static ChildProcess Start(string name, string executable, IEnumerable<string> arguments, string? logPath = null)
    {
        var process = new Process { StartInfo = StartInfo(executable, arguments) };
        var log = logPath is null ? null : new StreamWriter(logPath, append: true) { AutoFlush = true };
        var child = new ChildProcess(name, process, log);
        process.OutputDataReceived += (_, e) => child.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => child.Remember(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// Runs a command to its end and measures it from just before the start to the exit; kills it
    /// (and its children) when <paramref name="timeout"/> passes or <paramref name="cancel"/> fires.
    /// </summary>
    public static async Task<CommandResult> RunAsync(string executable, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancel)
    {
        using var process = new Process { StartInfo = StartInfo(executable, arguments) };
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(timeout);
        var clock = Stopwatch.StartNew();
        process.Start();
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
            throw new TimeoutException($"{Path.GetFileName(executable)} did not finish within {timeout.TotalSeconds:0} s");
        }
        var elapsed = clock.Elapsed;
        return new CommandResult(process.ExitCode, elapsed, await stdout, await stderr);
    }

    public void ThrowIfExited()
    {
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"{Name} (pid {_process.Id}) exited with code {_process.ExitCode}: {LastLine()}");
        }
    }

    /// <summary>The last thing the process printed, for error messages.</summary>
    public string LastLine()
    {
        lock (_lastLines)
        {
            return _lastLines.Count == 0 ? "(no output)" : _lastLines.Last();
        }
    }

    /// <summary>SIGTERM, then SIGKILL of the tree after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }
        _ = SendSignal(_process.Id, Sigterm);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"{Name} (pid {_process.Id}) did not stop within {grace.TotalSeconds:0} s of SIGTERM; killing it");
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(StopGrace);
        _process.Dispose();
        lock (_lastLines)
        {
            _logClosed = true;
            _log?.Dispose();
        }
    }

    private static ProcessStartInfo StartInfo(string executable, IEnumerable<string> arguments)
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

    private void Remember(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        lock (_lastLines)
        {
            if (!_logClosed)
            {
                _log?.WriteLine(line);
            }
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 50)
            {
                _lastLines.Dequeue();
            }
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}
