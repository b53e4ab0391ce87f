using System.Diagnostics;
using Dragonfly.PubSub.Bench.Common.Processes;

namespace Dragonfly.PubSub.Bench.Swarm.Processes;

/// <summary>
/// A long-running process in one node's network namespace (<c>ip netns exec NS ...</c>, which
/// execs the command, so the PID is the program's own). Its output goes to a log file; it is
/// stopped by PID: SIGTERM, then SIGKILL when it does not exit in time.
/// </summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _lastLines = new();
    private readonly Action<string>? _onLine;
    private bool _closed;

    private NodeProcess(string name, Process process, StreamWriter log, Action<string>? onLine)
    {
        Name = name;
        _process = process;
        _log = log;
        _onLine = onLine;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>When the process was started, on the benchmark's clock.</summary>
    public TimeSpan StartedAt { get; private init; }

    /// <summary>When the process exited, on the benchmark's clock (set once it has).</summary>
    public TimeSpan? ExitedAt { get; private set; }

    public static NodeProcess Start(string name, string netns, string executable, IEnumerable<string> arguments, string logPath,
        Stopwatch clock, Action<string>? onLine = null)
    {
        var info = ProcessRunner.RedirectedStartInfo("ip", new[] { "netns", "exec", netns, executable }.Concat(arguments));
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        var child = new NodeProcess(name, process, log, onLine) { StartedAt = clock.Elapsed };
        process.OutputDataReceived += (_, e) => child.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => child.Remember(e.Data);
        process.Exited += (_, _) => child.ExitedAt ??= clock.Elapsed;
        process.Start();
        LiveProcesses.Add(process.Id);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public double? CpuSeconds() => HasExited ? null : ProcFs.CpuSeconds(Pid);

    public long? PeakRssBytes() => HasExited ? null : ProcFs.PeakRssBytes(Pid);

    public async Task WaitForExitAsync(CancellationToken cancel) => await _process.WaitForExitAsync(cancel);

    public void ThrowIfExited()
    {
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"{Name} (pid {Pid}) exited with code {_process.ExitCode}: {LastLine()}");
        }
    }

    public string LastLine()
    {
        lock (_lastLines)
        {
            return _lastLines.Count == 0 ? "(no output)" : _lastLines.Last();
        }
    }

    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            await ProcessStop.StopAsync(_process, StopGrace, entireProcessTree: true);
        }
        else
        {
            await _process.WaitForExitAsync(CancellationToken.None); // drains the output readers
        }
        LiveProcesses.Remove(Pid);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        lock (_lastLines)
        {
            _closed = true;
            _log.Dispose();
        }
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_lastLines)
        {
            if (!_closed)
            {
                _log.WriteLine(line);
            }
            if (line.Trim().Length > 0)
            {
                _lastLines.Enqueue(line);
                if (_lastLines.Count > 20)
                {
                    _lastLines.Dequeue();
                }
            }
        }
        _onLine?.Invoke(line);
    }
}
