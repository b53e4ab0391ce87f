using System.Collections.Concurrent;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// Starts and remembers every long-running process of one test: a folder for their logs, a clean
/// environment (HOME inside the test's temp root, no inherited DRAGONFLY_DATA_DIR or
/// ASPNETCORE_URLS), the cluster's event log, and crash detection.
/// </summary>
public sealed class ProcessLauncher(string logDir, string home, Action<string> log)
{
    private readonly ConcurrentQueue<ProcessHandle> _processes = new();
    private int _sequence;

    public string LogDir { get; } = logDir;

    public IReadOnlyCollection<ProcessHandle> Processes => _processes;

    public IReadOnlyDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>
    {
        ["HOME"] = home,
        ["DRAGONFLY_DATA_DIR"] = null,
        ["ASPNETCORE_URLS"] = null,
        ["ASPNETCORE_HTTP_PORTS"] = null,
        ["ASPNETCORE_ENVIRONMENT"] = null,
        ["DOTNET_ENVIRONMENT"] = null,
        ["DOTNET_NOLOGO"] = "1",
    };

    public void Log(string message) => log(message);

    public ProcessHandle Start(string name, string executable, IEnumerable<string> args)
    {
        var handle = ProcessHandle.Start($"{Interlocked.Increment(ref _sequence):00}-{name}", executable, args, Environment, LogDir, log);
        _processes.Enqueue(handle);
        return handle;
    }

    /// <summary>Fails the test at once when a process died that the test did not stop.</summary>
    public void ThrowIfAnyCrashed()
    {
        var crashed = _processes.Where(p => p.HasExited && !p.StoppedByTest).ToList();
        if (crashed.Count > 0)
        {
            throw new Xunit.Sdk.XunitException(
                $"{string.Join(", ", crashed.Select(p => $"{p.Name} (exit code {p.ExitCode})"))} exited without being stopped\n"
                + string.Join('\n', crashed.Select(p => p.Tail(40))));
        }
    }

    public async Task KillAllAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
    }
}
