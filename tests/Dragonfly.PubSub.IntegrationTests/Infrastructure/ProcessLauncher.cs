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
    private readonly ConcurrentDictionary<string, string?> _environment = new(new Dictionary<string, string?>
    {
        ["HOME"] = home,
        ["DRAGONFLY_DATA_DIR"] = null,
        ["ASPNETCORE_URLS"] = null,
        ["ASPNETCORE_HTTP_PORTS"] = null,
        ["ASPNETCORE_ENVIRONMENT"] = null,
        ["DOTNET_ENVIRONMENT"] = null,
        ["DOTNET_NOLOGO"] = "1",
        // Origin settings of the developer's shell must not leak into a test's processes.
        ["SSL_CERT_FILE"] = null,
        ["SSL_CERT_DIR"] = null,
        ["AWS_ENDPOINT_URL"] = null,
        ["AWS_ENDPOINT_URL_S3"] = null,
        ["DRAGONFLY_S3_ENDPOINT"] = null,
        ["AWS_ACCESS_KEY_ID"] = null,
        ["AWS_SECRET_ACCESS_KEY"] = null,
        ["AWS_SESSION_TOKEN"] = null,
        ["AWS_PROFILE"] = null,
        ["DFGET_BROKER"] = null,
        ["DRAGONFLY_BROKER"] = null,
    });
    private readonly ConcurrentDictionary<string, string> _imageRoots = new(StringComparer.Ordinal);
    private int _sequence;

    public string LogDir { get; } = logDir;

    public IReadOnlyCollection<ProcessHandle> Processes => _processes;

    /// <summary>The environment of every process started from now on (null = removed from the inherited one).</summary>
    public IReadOnlyDictionary<string, string?> Environment => _environment;

    /// <summary>Sets (or with null removes) a variable for the processes started after this call.</summary>
    public void SetEnvironment(string name, string? value)
    {
        _environment[name] = value;
        log($"environment {name}={(value is null ? "(unset)" : IsSecret(name) ? "***" : value)}");
    }

    public void Log(string message) => log(message);

    /// <summary>
    /// Runs <paramref name="tool"/> (dfbroker, dfagent, dfpub, dfget) from now on from an unpacked container
    /// image: <c>chroot ROOTFS /opt/dragonfly/TOOL</c>. The test's paths must exist inside the root (bind mounts).
    /// </summary>
    public void RunFromImage(string tool, string rootfs)
    {
        _imageRoots[tool] = rootfs;
        log($"{tool} runs from the image root {rootfs}");
    }

    /// <summary>What runs <paramref name="executable"/>: itself, or chroot into its image (<see cref="RunFromImage"/>).</summary>
    public (string Executable, IReadOnlyList<string> Args) Command(string executable, IEnumerable<string> args) =>
        _imageRoots.TryGetValue(Path.GetFileName(executable), out var root)
            ? ("/usr/sbin/chroot", [root, "/opt/dragonfly/" + Path.GetFileName(executable), .. args])
            : (executable, args.ToList());

    public ProcessHandle Start(string name, string executable, IEnumerable<string> args)
    {
        (executable, var arguments) = Command(executable, args);
        var handle = ProcessHandle.Start($"{Interlocked.Increment(ref _sequence):00}-{name}", executable, arguments, Environment, LogDir, log);
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

    private static bool IsSecret(string name) =>
        name.Contains("SECRET", StringComparison.Ordinal) || name.Contains("TOKEN", StringComparison.Ordinal)
        || name.Contains("PASSWORD", StringComparison.Ordinal);

    public async Task KillAllAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
    }
}
