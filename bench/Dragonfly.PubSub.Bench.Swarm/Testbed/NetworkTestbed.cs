using System.Globalization;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Processes;

namespace Dragonfly.PubSub.Bench.Swarm.Testbed;

/// <summary>
/// The namespaces, veth pairs, bridge and tbf qdiscs of a <see cref="TestbedPlan"/>, made real.
/// Disposing kills whatever still runs inside them and deletes them; <see cref="SweepStale"/>
/// removes those of earlier runs whose benchmark process is gone.
/// </summary>
internal sealed partial class NetworkTestbed : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);
    private bool _disposed;

    private NetworkTestbed(TestbedPlan plan) => Plan = plan;

    public TestbedPlan Plan { get; }

    public static async Task<NetworkTestbed> CreateAsync(TestbedPlan plan, CancellationToken cancel)
    {
        var testbed = new NetworkTestbed(plan);
        EmergencyCleanup.Register(testbed);
        try
        {
            foreach (var command in plan.SetupCommands())
            {
                await ProcessRunner.RunCheckedAsync(command, CommandTimeout, cancel);
            }
            return testbed;
        }
        catch
        {
            await testbed.DisposeAsync();
            throw;
        }
    }

    /// <summary>Bytes node n has sent on its link (tx counter inside its namespace), headers included.</summary>
    public async Task<long> TxBytesAsync(int node, CancellationToken cancel)
    {
        var result = await ProcessRunner.RunCheckedAsync(
            ["ip", "netns", "exec", Plan.NodeNamespace(node), "cat", $"/sys/class/net/{TestbedPlan.NodeInterface}/statistics/tx_bytes"],
            CommandTimeout, cancel);
        return long.Parse(result.Stdout.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>Runs a command inside node n's namespace to its end.</summary>
    public Task<CommandResult> ExecAsync(int node, IEnumerable<string> argv, TimeSpan timeout, CancellationToken cancel) =>
        ProcessRunner.RunAsync(["ip", "netns", "exec", Plan.NodeNamespace(node), .. argv], timeout, cancel);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var ns in Plan.AllNamespaces)
        {
            await RemoveNamespaceAsync(ns);
        }
        EmergencyCleanup.Unregister(this);
    }

    /// <summary>Synchronous teardown for process exit, when nothing can be awaited.</summary>
    public void DisposeNow()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (var ns in Plan.AllNamespaces)
        {
            RemoveNamespaceAsync(ns).GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// Deletes <c>dfb-&lt;pid&gt;-*</c> namespaces left by benchmark processes that no longer exist
    /// (after a SIGKILL, say), killing what still runs in them. Returns how many it removed.
    /// </summary>
    public static async Task<int> SweepStale(CancellationToken cancel)
    {
        var list = await ProcessRunner.RunAsync(["ip", "netns", "list"], CommandTimeout, cancel);
        var removed = 0;
        foreach (var line in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            var match = OurNamespace().Match(name);
            if (match.Success && IsStale(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)))
            {
                await RemoveNamespaceAsync(name);
                removed++;
            }
        }
        return removed;
    }

    private static bool IsStale(int ownerPid) =>
        ownerPid != Environment.ProcessId && !Directory.Exists($"/proc/{ownerPid}");

    private static async Task RemoveNamespaceAsync(string ns)
    {
        try
        {
            // A namespace lives on while processes run in it: kill those first (ours, by PID).
            var pids = await ProcessRunner.RunAsync(["ip", "netns", "pids", ns], CommandTimeout, CancellationToken.None);
            foreach (var pid in pids.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (int.TryParse(pid, CultureInfo.InvariantCulture, out var id))
                {
                    _ = LiveProcesses.Signal(id, LiveProcesses.Sigkill);
                }
            }
            var result = await ProcessRunner.RunAsync(["ip", "netns", "del", ns], CommandTimeout, CancellationToken.None);
            if (result.ExitCode != 0 && !result.Stderr.Contains("No such file", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"dfbench swarm: could not delete network namespace {ns}: {result.LastLine}");
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"dfbench swarm: could not delete network namespace {ns}: {e.Message}");
        }
    }

    [GeneratedRegex(@"^dfb-(\d+)-(br|\d+)$")]
    private static partial Regex OurNamespace();
}
