using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>
/// Debian's <c>redis-server</c> on 127.0.0.1, the shared state of several dfbrokers (<c>--state redis://</c>),
/// started and stopped (by PID) by the benchmark. No persistence: the run's state is thrown away with its
/// temp dir. A port taken between probing and binding is retried on another one.
/// </summary>
internal sealed class RedisProcess : IAsyncDisposable
{
    public const string Executable = "/usr/bin/redis-server";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private bool _stopped;

    private RedisProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public int Pid => _process.Id;

    /// <summary>What <c>dfbroker --state</c> takes.</summary>
    public string Url => $"redis://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public ProcStatus? Status() => _stopped ? null : ProcStatus.Read(_process.Id);

    public static async Task<RedisProcess> StartAsync(string dataDir, CancellationToken cancellationToken)
    {
        if (!File.Exists(Executable))
        {
            throw new UserFacingException($"--brokers above 1 needs a Redis for the brokers' shared state: install Debian's redis-server ({Executable} is missing)");
        }
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var start = ProcessRunner.RedirectedStartInfo(Executable,
            [
                "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dataDir,
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
                "--maxclients", "1000",
            ]);
            var process = Process.Start(start) ?? throw new UserFacingException($"cannot start {Executable}");
            LiveProcesses.KillAllOnProcessExit();
            LiveProcesses.Add(process.Id);
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var redis = new RedisProcess(process, port);
            if (await redis.WaitListeningAsync(cancellationToken).ConfigureAwait(false))
            {
                return redis;
            }
            await redis.DisposeAsync().ConfigureAwait(false);
            if (attempt == 3)
            {
                throw new UserFacingException($"redis-server did not listen on 127.0.0.1 within {ReadyTimeout.TotalSeconds:0} s (three ports tried)");
            }
        }
    }

    private async Task<bool> WaitListeningAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReadyTimeout && !_process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
        return false;
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
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
            await ProcessStop.StopAsync(_process, TimeSpan.FromSeconds(10), entireProcessTree: false).ConfigureAwait(false);
        }
        finally
        {
            LiveProcesses.Remove(_process.Id);
            _process.Dispose();
        }
    }
}
