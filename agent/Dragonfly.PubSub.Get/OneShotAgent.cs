using System.Diagnostics;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Get;

/// <summary>
/// The agent dfget runs when no daemon answers at --data-dir: a <c>dfagent</c> child process with a
/// temporary data dir, a free peer port (it serves pieces while it runs), no HTTP port, no mirror, no
/// subscriptions. dfget itself stays a small native executable (the agent needs the JIT, ASP.NET Core
/// and gRPC); the child holds dfget's end of a pipe on its stdin and stops when it closes, so it never
/// outlives dfget. Disposing it stops the child (it leaves the swarm) and removes the data dir.
/// </summary>
internal sealed class OneShotAgent : IAsyncDisposable
{
    private const int MaxSocketPath = 100;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    private readonly Process _process;
    private readonly ChildOutput _output;

    private OneShotAgent(Process process, ChildOutput output, string dataDir)
    {
        _process = process;
        _output = output;
        DataDir = dataDir;
    }

    /// <summary>The data dir whose socket the SDK talks to.</summary>
    public string DataDir { get; }

    /// <summary>The broker to use: --broker, else DFGET_BROKER, else DRAGONFLY_BROKER; null when none is given.</summary>
    public static string? BrokerFrom(string? flag)
    {
        foreach (var value in (string?[])[flag, Environment.GetEnvironmentVariable("DFGET_BROKER"), Environment.GetEnvironmentVariable("DRAGONFLY_BROKER")])
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                return value.Trim();
            }
        }
        return null;
    }

    /// <exception cref="UserFacingException">No dfagent to run, bad settings the agent refused (its exit code), or it did not start.</exception>
    public static async Task<OneShotAgent> StartAsync(string broker, OneShotTls tls, bool verbose, CancellationToken cancellationToken)
    {
        var executable = AgentExecutable.Find();
        var name = $"dfget-{Guid.NewGuid().ToString("N")[..10]}";
        var dataDir = Path.Combine(Path.GetTempPath(), name);
        if (Path.Combine(dataDir, "dfagent.sock").Length > MaxSocketPath)
        {
            // A unix socket path is limited to ~107 bytes: a deep TMPDIR cannot hold the agent's socket.
            dataDir = Path.Combine("/tmp", name);
        }
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["--broker", broker, "--data-dir", dataDir, "--peer-port", "0", "--http-port", "-1", "--proxy-port", "-1", "--exit-with-stdin"])
        {
            start.ArgumentList.Add(arg);
        }
        if (verbose)
        {
            start.ArgumentList.Add("--verbose");
        }
        // The child takes its settings from these arguments only: DFAGENT_* of the caller's environment
        // (a daemon's subscriptions, ports, output dir) must not leak into a one-shot download.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("DFAGENT_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        tls.ApplyTo(start);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new UserFacingException($"cannot start {executable}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new UserFacingException($"cannot start the one-shot agent {executable}: {e.Message}; set DFGET_AGENT to the dfagent executable");
        }
        var output = new ChildOutput(process, verbose);
        var agent = new OneShotAgent(process, output, dataDir);
        try
        {
            using var startDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            startDeadline.CancelAfter(StartTimeout);
            if (!await output.WaitForReadyAsync(startDeadline.Token).ConfigureAwait(false))
            {
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                await output.DrainAsync().ConfigureAwait(false); // its error line may still be in the stderr pipe
                throw new UserFacingException(
                    $"the one-shot agent could not start: {output.LastError ?? $"{executable} exited with {process.ExitCode}"}",
                    process.ExitCode == ExitCodes.Usage ? ExitCodes.Usage : ExitCodes.Failed);
            }
            return agent;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            throw new UserFacingException($"the one-shot agent did not report ready within {StartTimeout.TotalSeconds:0} s{(output.LastError is { } error ? $": {error}" : "")}");
        }
        catch
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // EOF on its stdin: the agent leaves the swarm and stops (--exit-with-stdin).
                _process.StandardInput.Close();
                using var stopped = new CancellationTokenSource(StopTimeout);
                try
                {
                    await _process.WaitForExitAsync(stopped.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            await _output.DrainAsync().ConfigureAwait(false);
        }
        finally
        {
            _process.Dispose();
            DeleteDir(DataDir);
        }
    }

    private static void DeleteDir(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a temp dir left behind is harmless.
        }
    }
}
