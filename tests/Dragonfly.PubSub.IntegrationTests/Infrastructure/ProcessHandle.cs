using System.Diagnostics;
using System.Text;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// One process a test started. Its stdout and stderr go to <c>&lt;name&gt;.stdout.log</c> and
/// <c>&lt;name&gt;.stderr.log</c> and the last lines stay in memory for assertions. Disposal
/// always kills it, so a failing test never leaves a process behind.
/// </summary>
public sealed class ProcessHandle : IAsyncDisposable
{
    private const int KeptLines = 4000;

    private readonly Process _process;
    private readonly Action<string> _log;
    private readonly Lock _gate = new();
    private readonly Queue<string> _stdout = new();
    private readonly Queue<string> _stderr = new();
    private readonly StreamWriter _stdoutFile;
    private readonly StreamWriter _stderrFile;
    private bool _disposed;
    private bool _filesClosed;

    private ProcessHandle(string name, Process process, StreamWriter stdoutFile, StreamWriter stderrFile, Action<string> log)
    {
        Name = name;
        _process = process;
        _stdoutFile = stdoutFile;
        _stderrFile = stderrFile;
        _log = log;
    }

    public string Name { get; }

    public int Pid { get; private set; }

    public string CommandLine { get; private set; } = "";

    /// <summary>True once the test stopped or killed it on purpose; an exit without this is a crash.</summary>
    public bool StoppedByTest { get; private set; }

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    public string Stdout => Joined(_stdout);

    public string Stderr => Joined(_stderr);

    public static ProcessHandle Start(
        string name, string executable, IEnumerable<string> args, IReadOnlyDictionary<string, string?> environment,
        string logDir, Action<string> log)
    {
        Directory.CreateDirectory(logDir);
        var info = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = logDir,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }
        var stdoutFile = new StreamWriter(Path.Combine(logDir, name + ".stdout.log")) { AutoFlush = true };
        var stderrFile = new StreamWriter(Path.Combine(logDir, name + ".stderr.log")) { AutoFlush = true };
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var handle = new ProcessHandle(name, process, stdoutFile, stderrFile, log);
        process.OutputDataReceived += (_, e) => handle.Append(handle._stdout, handle._stdoutFile, e.Data);
        process.ErrorDataReceived += (_, e) => handle.Append(handle._stderr, handle._stderrFile, e.Data);
        handle.CommandLine = executable + " " + string.Join(' ', info.ArgumentList.Select(Quote));
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {handle.CommandLine}");
        }
        handle.Pid = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        log($"started {name} pid={handle.Pid}: {handle.CommandLine}");
        return handle;
    }

    /// <summary>True when a line of stdout satisfies <paramref name="predicate"/>.</summary>
    public bool StdoutHasLine(Func<string, bool> predicate)
    {
        lock (_gate)
        {
            return _stdout.Any(predicate);
        }
    }

    /// <summary>The kept lines of stdout and stderr that satisfy <paramref name="predicate"/>.</summary>
    public IReadOnlyList<string> LinesWhere(Func<string, bool> predicate)
    {
        lock (_gate)
        {
            return _stdout.Concat(_stderr).Where(predicate).ToList();
        }
    }

    /// <summary>
    /// SIGKILL: the process gets no chance to flush or say goodbye. With <paramref name="entireTree"/>
    /// false its children live on (a test of what they do when their parent vanishes).
    /// </summary>
    public async Task KillAsync(bool entireTree = true)
    {
        StoppedByTest = true;
        if (!_process.HasExited)
        {
            _log($"SIGKILL {Name} pid={Pid}");
            try
            {
                _process.Kill(entireTree);
            }
            catch (InvalidOperationException)
            {
                // It exited between the check and the kill.
            }
        }
        await WaitForExitCoreAsync(TimeSpan.FromSeconds(15));
    }

    /// <summary>SIGTERM, wait up to <paramref name="grace"/>, then SIGKILL.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        StoppedByTest = true;
        if (_process.HasExited)
        {
            return;
        }
        _log($"SIGTERM {Name} pid={Pid}");
        // SIGTERM through libc: no dependency on a kill program being installed.
        _ = SendSignal(Pid, SigTerm);
        if (!await WaitForExitCoreAsync(grace ?? TimeSpan.FromSeconds(10)))
        {
            _log($"{Name} did not exit within the grace period after SIGTERM");
            await KillAsync();
        }
    }

    private const int SigTerm = 15;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>Waits until the process exits on its own; false on timeout.</summary>
    public Task<bool> WaitForExitAsync(TimeSpan timeout) => WaitForExitCoreAsync(timeout);

    /// <summary>The last <paramref name="lines"/> lines of stdout and stderr, for failure reports.</summary>
    public string Tail(int lines = 60)
    {
        var text = new StringBuilder();
        var state = _process.HasExited ? $"exited with {_process.ExitCode}" : "running";
        text.AppendLine($"----- {Name} pid={Pid} ({state}{(StoppedByTest ? ", stopped by the test" : "")})");
        text.AppendLine($"      {CommandLine}");
        lock (_gate)
        {
            text.AppendLine($"----- stdout (last {Math.Min(lines, _stdout.Count)} of the kept lines)");
            foreach (var line in _stdout.Skip(Math.Max(0, _stdout.Count - lines)))
            {
                text.AppendLine(line);
            }
            text.AppendLine($"----- stderr (last {Math.Min(lines, _stderr.Count)} of the kept lines)");
            foreach (var line in _stderr.Skip(Math.Max(0, _stderr.Count - lines)))
            {
                text.AppendLine(line);
            }
        }
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (!_process.HasExited)
        {
            await KillAsync();
        }
        lock (_gate)
        {
            _filesClosed = true;
            _stdoutFile.Dispose();
            _stderrFile.Dispose();
        }
        _process.Dispose();
    }

    private async Task<bool> WaitForExitCoreAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            // Also drains the redirected streams, so Tail() shows the last words.
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return _process.HasExited;
        }
    }

    private void Append(Queue<string> lines, StreamWriter file, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_gate)
        {
            if (lines.Count == KeptLines)
            {
                lines.Dequeue();
            }
            lines.Enqueue(line);
            if (!_filesClosed)
            {
                file.WriteLine(line);
            }
        }
    }

    private string Joined(Queue<string> lines)
    {
        lock (_gate)
        {
            return string.Join('\n', lines);
        }
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || "-_./:=@+,".Contains(c)) ? arg : $"'{arg.Replace("'", "'\\''", StringComparison.Ordinal)}'";
}
