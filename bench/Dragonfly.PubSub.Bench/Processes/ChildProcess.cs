using System.Diagnostics;
using Dragonfly.PubSub.Bench.Common.Processes;

namespace Dragonfly.PubSub.Bench.Processes;

/// <summary>
/// A long-running process the benchmark started (broker, agent, nginx). It keeps the last lines
/// the process wrote so that a failure can say why, and stops it by PID: SIGTERM first, SIGKILL
/// (of the whole tree) when it does not exit in time.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
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
        var process = new Process { StartInfo = ProcessRunner.RedirectedStartInfo(executable, arguments) };
        var log = logPath is null ? null : new StreamWriter(logPath, append: true) { AutoFlush = true };
        var child = new ChildProcess(name, process, log);
        process.OutputDataReceived += (_, e) => child.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => child.Remember(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
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
    public Task StopAsync(TimeSpan grace) =>
        ProcessStop.StopAsync(_process, grace, entireProcessTree: true,
            () => Console.Error.WriteLine($"{Name} (pid {_process.Id}) did not stop within {grace.TotalSeconds:0} s of SIGTERM; killing it"));

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

}
