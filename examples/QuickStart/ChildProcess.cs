using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace QuickStart;

/// <summary>
/// One dfbroker or dfagent started by the example: it keeps the last lines the process wrote so
/// that a failure can say why, and stops it politely (SIGTERM) before it stops it hard.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public static ChildProcess Start(string name, string executable, IEnumerable<string> arguments)
    {
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException($"{executable} does not exist; build the solution first (dotnet build -c Release)");
        }
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
        var process = new Process { StartInfo = info };
        var child = new ChildProcess(name, process);
        process.OutputDataReceived += (_, e) => child.Remember(e.Data);
        process.ErrorDataReceived += (_, e) => child.Remember(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// Waits for the readiness file the process writes once its listeners are bound
    /// (<c>broker.json</c> or <c>agent.json</c> in its data dir; written by rename, so never half).
    /// </summary>
    public async Task<T> WaitForReadinessFileAsync<T>(string path, TimeSpan timeout, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (File.Exists(path))
            {
                await using var stream = File.OpenRead(path);
                return await JsonSerializer.DeserializeAsync<T>(stream, Json, cancel)
                    ?? throw new InvalidOperationException($"{path} is empty");
            }
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before it was ready: {LastLine()}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Name} was not ready within {timeout.TotalSeconds:0} s: {LastLine()}");
            }
            await Task.Delay(50, cancel);
        }
    }

    public void ThrowIfExited()
    {
        if (_process.HasExited)
        {
            throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}: {LastLine()}");
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

    /// <summary>SIGTERM, then kill after <paramref name="grace"/> if it is still running.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }
        if (OperatingSystem.IsWindows())
        {
            _process.Kill(entireProcessTree: true);
        }
        else
        {
            _ = SendSignal(_process.Id, Sigterm);
        }
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"{Name} (pid {_process.Id}) did not stop within {grace.TotalSeconds:0} s; killing it");
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }

    private void Remember(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 20)
            {
                _lastLines.Dequeue();
            }
        }
    }

    private const int Sigterm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}
