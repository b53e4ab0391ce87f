namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// What every process a test starts shares: a folder for its logs, a clean environment (HOME
/// inside the test's temp root, no inherited DRAGONFLY_DATA_DIR or ASPNETCORE_URLS) and the
/// cluster's event log.
/// </summary>
public sealed class ProcessLauncher(string logDir, string home, Action<string> log)
{
    private int _sequence;

    public string LogDir { get; } = logDir;

    public void Log(string message) => log(message);

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

    /// <summary>A unique, readable log name such as <c>03-sub-1</c>.</summary>
    public string NextLogName(string name) => $"{Interlocked.Increment(ref _sequence):00}-{name}";

    public ProcessHandle Start(string name, string executable, IEnumerable<string> args) =>
        ProcessHandle.Start(NextLogName(name), executable, args, Environment, LogDir, log);
}
