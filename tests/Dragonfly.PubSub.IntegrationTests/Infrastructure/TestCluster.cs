using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// One test's world: a temp root under <c>/tmp/dfit</c> (short, so unix socket paths stay under
/// 108 bytes), the broker and agents it started, and an event log. On failure it writes the
/// event log and the tail of every process log to the test output and keeps the logs on disk;
/// it always kills every process it started.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTestTimeout = TimeSpan.FromMinutes(3);
    public static readonly TimeSpan TransferTimeout = TimeSpan.FromSeconds(120);

    private const string TempBase = "/tmp/dfit";

    private readonly ConcurrentQueue<string> _events = new();
    private readonly ConcurrentDictionary<string, AgentProcess> _agents = new();
    private readonly ConcurrentStack<IDisposable> _owned = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private BrokerProcess? _broker;
    private bool _errorLogsAllowed;

    public TestCluster(string testName)
    {
        TestName = testName;
        Root = Path.Combine(TempBase, Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Root);
        File.WriteAllText(Path.Combine(Root, "test.txt"), testName + Environment.NewLine);
        Launcher = new ProcessLauncher(Path.Combine(Root, "logs"), Path.Combine(Root, "home"), Log);
        Directory.CreateDirectory(Path.Combine(Root, "home"));
        if (TlsMode.Insecure)
        {
            // Every agent and dfget of this test runs in plain text, like the broker (DFIT_INSECURE=1).
            Launcher.SetEnvironment("DFAGENT_INSECURE", "1");
            Launcher.SetEnvironment("DFGET_INSECURE", "1");
        }
    }

    public string TestName { get; }

    public string Root { get; }

    public ProcessLauncher Launcher { get; }

    /// <summary>The broker started last.</summary>
    public BrokerProcess Broker => _broker ?? throw new InvalidOperationException("no broker was started");

    public IEnumerable<AgentProcess> Agents => _agents.Values;

    /// <summary>True once a guarded test body failed; the temp root is then kept for diagnosis.</summary>
    public bool Failed { get; private set; }

    /// <summary>
    /// Creates a cluster, runs <paramref name="body"/> with a deadline, and always cleans up.
    /// On failure the test output gets the event log and the tail of every process log.
    /// </summary>
    public static async Task RunAsync(
        ITestOutputHelper output, Func<TestCluster, Task> body, TimeSpan? timeout = null, [CallerMemberName] string testName = "")
    {
        var cluster = new TestCluster(testName);
        try
        {
            await cluster.GuardAsync(output, body, timeout ?? DefaultTestTimeout);
        }
        finally
        {
            await cluster.DisposeAsync();
            cluster.CleanUp();
        }
    }

    /// <summary>Runs <paramref name="body"/> against this cluster; on failure dumps what is needed to diagnose it.</summary>
    public async Task GuardAsync(ITestOutputHelper output, Func<TestCluster, Task> body, TimeSpan timeout)
    {
        output.WriteLine($"test root: {Root}");
        var run = body(this);
        try
        {
            if (await Task.WhenAny(run, Task.Delay(timeout)) != run)
            {
                throw new TimeoutException($"{TestName} did not finish within {timeout.TotalSeconds:0} s");
            }
            await run;
            Launcher.ThrowIfAnyCrashed();
            ThrowIfErrorsLogged();
        }
        catch (Exception e)
        {
            Failed = true;
            output.WriteLine($"FAILED after {_clock.Elapsed.TotalSeconds:0.0} s: {e.GetType().Name}: {e.Message}");
            WriteEvents(output);
            foreach (var process in Launcher.Processes)
            {
                output.WriteLine(process.Tail());
            }
            output.WriteLine($"full logs kept in {Launcher.LogDir}");
            throw;
        }
        WriteEvents(output);
    }

    /// <summary>
    /// Lets this test pass although processes log errors (a test that kills the broker makes the
    /// agents log that they lost it); <paramref name="reason"/> goes to the event log.
    /// </summary>
    public void AllowErrorLogs(string reason)
    {
        _errorLogsAllowed = true;
        Log($"error logs allowed: {reason}");
    }

    public void Log(string message) => _events.Enqueue($"[{_clock.Elapsed.TotalSeconds,7:0.000}] {message}");

    /// <summary>
    /// Makes the cluster dispose <paramref name="resource"/> (a server the test started) when it
    /// ends, after its processes are killed, also when the test fails or times out.
    /// </summary>
    public T Own<T>(T resource) where T : IDisposable
    {
        _owned.Push(resource);
        return resource;
    }

    /// <summary>
    /// Starts <c>dfbroker</c> with its data dir <c>&lt;root&gt;/broker</c> and <paramref name="extraArgs"/> (e.g. <c>--no-seed</c>).
    /// In secure mode it then makes the test's credentials (<see cref="TestFleet"/>) and hands the agents'
    /// join token to every dfagent and dfget started afterwards (DFAGENT_JOIN_TOKEN, DFGET_JOIN_TOKEN).
    /// </summary>
    public async Task<BrokerProcess> StartBrokerAsync(BrokerPorts? ports = null, IReadOnlyList<string>? extraArgs = null)
    {
        var broker = await BrokerProcess.StartAsync(Launcher, Path.Combine(Root, "broker"), ports, extraArgs: extraArgs);
        _broker = broker;
        if (!TlsMode.Insecure)
        {
            broker.Fleet = await TestFleet.CreateAsync(this, broker);
            UseFleet(broker);
        }
        return broker;
    }

    /// <summary>The environment that makes agents and dfget enrol at <paramref name="broker"/>.</summary>
    private void UseFleet(BrokerProcess broker)
    {
        var api = $"127.0.0.1:{broker.Ports.Http}";
        Launcher.SetEnvironment("DFAGENT_JOIN_TOKEN", broker.Fleet!.AgentToken);
        Launcher.SetEnvironment("DFGET_JOIN_TOKEN", broker.Fleet.AgentToken);
        Launcher.SetEnvironment("DFAGENT_BROKER_HTTP", api);
        Launcher.SetEnvironment("DFGET_BROKER_HTTP", api);
    }

    /// <summary>
    /// Starts a new broker on the data dir and ports of the current one (which the test killed).
    /// Retries for a few seconds when the new process cannot bind yet, and says so in the event log.
    /// </summary>
    public async Task<BrokerProcess> RestartBrokerAsync()
    {
        var previous = Broker;
        if (!previous.Process.HasExited)
        {
            throw new InvalidOperationException("stop or kill the broker before restarting it");
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                _broker = await BrokerProcess.StartAsync(Launcher, previous.DataDir, previous.Ports, "broker-restarted", previous.ExtraArgs);
                // Same data dir: same CA, tokens and enrolled peers.
                _broker.Fleet = previous.Fleet;
                return _broker;
            }
            catch (Xunit.Sdk.XunitException e) when (DateTime.UtcNow < deadline && e.Message.Contains("exited with", StringComparison.Ordinal))
            {
                Log($"broker restart attempt {attempt} failed, retrying: {e.Message.Split('\n')[0]}");
                foreach (var failed in Launcher.Processes.Where(p => p.HasExited && !p.StoppedByTest))
                {
                    // A start that failed to bind is not a crash of the system under test.
                    await failed.KillAsync();
                }
                await Task.Delay(500);
            }
        }
    }

    /// <summary>
    /// Starts <c>dfagent</c> named <paramref name="name"/> with its data dir <c>&lt;root&gt;/&lt;name&gt;/data</c>
    /// and output dir <c>&lt;root&gt;/&lt;name&gt;/out</c>, against the current broker unless
    /// <paramref name="broker"/> says otherwise. In secure mode a <c>--seed</c> agent enrols with the fleet's
    /// seed token unless <paramref name="extraArgs"/> names a token.
    /// </summary>
    public async Task<AgentProcess> StartAgentAsync(
        string name, IReadOnlyList<string>? subscribe = null, IReadOnlyList<string>? extraArgs = null, BrokerPorts? broker = null,
        string? executable = null)
    {
        if (extraArgs is not null && extraArgs.Contains("--seed") && !extraArgs.Contains("--join-token") && _broker?.Fleet is { } fleet)
        {
            extraArgs = [.. extraArgs, "--join-token", fleet.SeedToken];
        }
        var spec = new AgentSpec(name, Path.Combine(Root, name, "data"), Path.Combine(Root, name, "out"), subscribe ?? [], extraArgs ?? [], executable);
        var agent = await AgentProcess.StartAsync(Launcher, broker ?? Broker.Ports, spec);
        _agents[name] = agent;
        return agent;
    }

    /// <summary>Starts <paramref name="count"/> agents named <c>prefix-1..N</c> concurrently.</summary>
    public async Task<IReadOnlyList<AgentProcess>> StartAgentsAsync(
        string prefix, int count, IReadOnlyList<string>? subscribe = null, IReadOnlyList<string>? extraArgs = null) =>
        await Task.WhenAll(Enumerable.Range(1, count).Select(i => StartAgentAsync($"{prefix}-{i}", subscribe, extraArgs)));

    /// <summary>
    /// Starts an agent again on the same data and output dirs (it must have exited), with new flags if given,
    /// against the current broker unless <paramref name="broker"/> says otherwise.
    /// </summary>
    public async Task<AgentProcess> RestartAgentAsync(AgentProcess previous, IReadOnlyList<string>? extraArgs = null, BrokerPorts? broker = null)
    {
        if (!previous.Process.HasExited)
        {
            throw new InvalidOperationException($"stop or kill {previous.Name} before restarting it");
        }
        var spec = previous.Spec with { ExtraArgs = extraArgs ?? previous.Spec.ExtraArgs };
        var agent = await AgentProcess.StartAsync(Launcher, broker ?? Broker.Ports, spec);
        _agents[previous.Name] = agent;
        return agent;
    }

    /// <summary>A file of <paramref name="size"/> seeded random bytes in <c>&lt;root&gt;/files/&lt;name&gt;</c>.</summary>
    public async Task<TestFile> CreateFileAsync(string name, long size, int seed)
    {
        var file = await TestFile.CreateAsync(Path.Combine(Root, "files", name), size, seed);
        Log($"created {name}: {size} bytes, sha256 {file.Sha256Hex}");
        return file;
    }

    /// <summary>
    /// <c>dfpub FILE --topic TOPIC --data-dir &lt;publisher&gt; EXTRA</c>; asserts exit code 0 and that
    /// the last line of stdout is the file's content id.
    /// </summary>
    public async Task<CliResult> PublishAsync(AgentProcess publisher, TestFile file, string topic, params string[] extraArgs)
    {
        var result = await RunCliAsync("dfpub", [file.Path, "--topic", topic, "--data-dir", publisher.DataDir, .. extraArgs]);
        Assert.True(result.ExitCode == 0, $"dfpub failed:\n{result}");
        Assert.True(result.LastStdoutLine == file.Digest, $"dfpub should print the content id {file.Digest}:\n{result}");
        return result;
    }

    /// <summary>
    /// Runs <c>dfpub</c>/<c>dfget</c> with the launcher's environment plus <paramref name="environment"/>
    /// and notes the result in the event log.
    /// </summary>
    public async Task<CliResult> RunCliAsync(
        string tool, IEnumerable<string> args, TimeSpan? timeout = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var watch = Stopwatch.StartNew();
        var merged = new Dictionary<string, string?>(Launcher.Environment);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            merged[name] = value;
        }
        var (executable, arguments) = Launcher.Command(tool.Contains('/', StringComparison.Ordinal) ? tool : Product.ByName(tool), args);
        var result = await Cli.RunAsync(executable, arguments, timeout, merged);
        Log($"{result.CommandLine} -> exit {result.ExitCode} in {watch.Elapsed.TotalSeconds:0.0} s"
            + (result.Stderr.Length == 0 ? "" : $"; stderr: {result.Stderr.Trim()}"));
        return result;
    }

    /// <summary>Waits, in parallel, until every agent holds <paramref name="file"/> under <c>&lt;output&gt;/&lt;topic&gt;/&lt;name&gt;</c>.</summary>
    public async Task<IReadOnlyList<FileArrival>> WaitForFileOnAllAsync(
        IEnumerable<AgentProcess> agents, string topic, TestFile file, TimeSpan? timeout = null) =>
        await Task.WhenAll(agents.Select(a => a.WaitForFileAsync(a.OutputPathOf(topic, file.Name), file, timeout ?? TransferTimeout)));

    /// <summary>A loopback TCP port that nothing listens on (bound and released at once).</summary>
    public static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents.Values)
        {
            agent.Http.Dispose();
        }
        _broker?.Http.Dispose();
        await Launcher.KillAllAsync();
        while (_owned.TryPop(out var resource))
        {
            resource.Dispose();
        }
    }

    /// <summary>A passing test whose processes logged an error or critical line, or an unhandled exception, fails (the product noticed something wrong).</summary>
    private void ThrowIfErrorsLogged()
    {
        if (_errorLogsAllowed)
        {
            return;
        }
        var errors = Launcher.Processes
            .SelectMany(p => p.LinesWhere(IsErrorLine).Take(5).Select(l => $"{p.Name}: {l}"))
            .ToList();
        if (errors.Count > 0)
        {
            throw new Xunit.Sdk.XunitException($"processes logged errors during the test:\n{string.Join('\n', errors)}");
        }
    }

    private static bool IsErrorLine(string line) =>
        line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)
        || line.StartsWith("fail: ", StringComparison.Ordinal) || line.StartsWith("crit: ", StringComparison.Ordinal)
        || line.Contains("Unhandled exception", StringComparison.Ordinal);

    private void WriteEvents(ITestOutputHelper output)
    {
        output.WriteLine($"----- events of {TestName}");
        foreach (var line in _events)
        {
            output.WriteLine(line);
        }
    }

    /// <summary>
    /// Call after <see cref="DisposeAsync"/>: removes the temp root after a pass; after a failure
    /// keeps logs and small files and drops the big ones.
    /// </summary>
    public void CleanUp()
    {
        try
        {
            if (!Failed)
            {
                Directory.Delete(Root, recursive: true);
                return;
            }
            foreach (var file in new DirectoryInfo(Root).EnumerateFiles("*", SearchOption.AllDirectories))
            {
                if (file.Length > 1024 * 1024)
                {
                    file.Delete();
                }
            }
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder must not turn a result into a different one.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
