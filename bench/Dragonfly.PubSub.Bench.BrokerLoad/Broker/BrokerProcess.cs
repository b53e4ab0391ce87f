using System.Diagnostics;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>
/// One dfbroker process on 127.0.0.1 with ports chosen by the kernel. Its output is drained (a full
/// pipe would stall the broker) and only the last lines are kept for error messages. Stopped by PID.
/// </summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);
    private const int TailLines = 20;

    private readonly Process _process;
    private readonly Queue<string> _tail = new();
    private long _lines;
    private bool _stopped;

    private BrokerProcess(Process process, BrokerPorts ports)
    {
        _process = process;
        Ports = ports;
    }

    public BrokerPorts Ports { get; private set; }

    public int Pid => _process.Id;

    /// <summary>Lines the broker wrote to stdout and stderr so far (its per-peer log lines cost it CPU too).</summary>
    public long OutputLines => Interlocked.Read(ref _lines);

    /// <summary>The dfbroker apphost built next to this assembly's repository, in the same configuration.</summary>
    public static string DefaultExecutable() =>
        Path.Combine(Executables.RepoRoot, "broker", "Dragonfly.PubSub.Broker", "bin", Executables.Configuration, "net10.0", "dfbroker");

    /// <summary>dfbroker's command line after the executable.</summary>
    public IReadOnlyList<string> Arguments { get; private init; } = [];

    /// <summary>
    /// The one place that says how dfbroker is started. Without TLS it gets <c>--insecure</c> (TLS is the
    /// broker's default once it has it); a dfbroker built before the flag existed speaks only plaintext
    /// and would refuse it, so the flag goes only to a broker whose --help lists it.
    /// </summary>
    /// <param name="extra">Appended as given (several brokers: <c>--state redis://…</c>).</param>
    public static async Task<IReadOnlyList<string>> ArgumentsAsync(string executable, string dataDir, bool tls, CancellationToken cancellationToken,
        IReadOnlyList<string>? extra = null)
    {
        List<string> arguments = ["--listen", "127.0.0.1", "--mqtt-port", "0", "--grpc-port", "0", "--http-port", "0", "--data-dir", dataDir, .. extra ?? []];
        if (!tls && await KnowsFlagAsync(executable, InsecureFlag, cancellationToken).ConfigureAwait(false))
        {
            arguments.Add(InsecureFlag);
        }
        return arguments;
    }

    private const string InsecureFlag = "--insecure";

    private static async Task<bool> KnowsFlagAsync(string executable, string flag, CancellationToken cancellationToken)
    {
        var help = await ProcessRunner.RunAsync(executable, ["--help"], TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        return (help.Stdout + help.Stderr).Contains(flag, StringComparison.Ordinal);
    }

    public static async Task<BrokerProcess> StartAsync(string executable, string dataDir, bool tls, CancellationToken cancellationToken,
        IReadOnlyList<string>? extraArguments = null)
    {
        if (!File.Exists(executable))
        {
            throw new UserFacingException($"dfbroker not found at {executable}; build it with 'dotnet build -c Release broker/Dragonfly.PubSub.Broker' or pass --broker PATH");
        }
        var arguments = await ArgumentsAsync(executable, dataDir, tls, cancellationToken, extraArguments).ConfigureAwait(false);
        var start = ProcessRunner.RedirectedStartInfo(executable, arguments);
        var process = Process.Start(start) ?? throw new UserFacingException($"cannot start {executable}");
        LiveProcesses.KillAllOnProcessExit();
        LiveProcesses.Add(process.Id);
        var broker = new BrokerProcess(process, new BrokerPorts(process.Id, 0, 0, 0)) { Arguments = arguments };
        process.OutputDataReceived += (_, e) => broker.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => broker.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            broker.Ports = await WaitReadyAsync(process, Path.Combine(dataDir, "broker.json"), broker, cancellationToken).ConfigureAwait(false);
            return broker;
        }
        catch
        {
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<BrokerPorts> WaitReadyAsync(Process process, string readyFile, BrokerProcess broker, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (process.HasExited)
            {
                throw new UserFacingException($"dfbroker exited with code {process.ExitCode} before it was ready: {broker.Tail()}");
            }
            if (File.Exists(readyFile))
            {
                using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(readyFile, cancellationToken).ConfigureAwait(false));
                var root = json.RootElement;
                return new BrokerPorts(
                    root.GetProperty("pid").GetInt32(),
                    root.GetProperty("mqttPort").GetInt32(),
                    root.GetProperty("grpcPort").GetInt32(),
                    root.GetProperty("httpPort").GetInt32());
            }
            if (deadline.Elapsed > ReadyTimeout)
            {
                throw new UserFacingException($"dfbroker did not become ready within {ReadyTimeout.TotalSeconds:0} s: {broker.Tail()}");
            }
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    public ProcStatus? Status() => _stopped ? null : ProcStatus.Read(_process.Id);

    /// <summary>The last lines of output, for error messages.</summary>
    public string Tail()
    {
        lock (_tail)
        {
            return _tail.Count == 0 ? "(no output)" : string.Join(" | ", _tail);
        }
    }

    /// <summary>Whether the broker is still running (false: it crashed).</summary>
    public bool IsRunning => !_process.HasExited;

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }
        Interlocked.Increment(ref _lines);
        lock (_tail)
        {
            _tail.Enqueue(line);
            if (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        try
        {
            await ProcessStop.StopAsync(_process, StopTimeout, entireProcessTree: false).ConfigureAwait(false);
        }
        finally
        {
            LiveProcesses.Remove(_process.Id);
            _process.Dispose();
        }
    }
}
