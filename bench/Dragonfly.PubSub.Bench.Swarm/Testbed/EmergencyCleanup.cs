using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Processes;

namespace Dragonfly.PubSub.Bench.Swarm.Testbed;

/// <summary>
/// Last resort when the process exits without unwinding (an unhandled exception, Environment.Exit):
/// kill the processes this benchmark started and delete its namespaces. The normal path disposes
/// everything itself and leaves nothing here.
/// </summary>
internal static class EmergencyCleanup
{
    private static readonly List<NetworkTestbed> Testbeds = [];
    private static int _hooked;

    public static void Register(NetworkTestbed testbed)
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Run();
        }
        lock (Testbeds)
        {
            Testbeds.Add(testbed);
        }
    }

    public static void Unregister(NetworkTestbed testbed)
    {
        lock (Testbeds)
        {
            Testbeds.Remove(testbed);
        }
    }

    private static void Run()
    {
        LiveProcesses.KillAll();
        NetworkTestbed[] left;
        lock (Testbeds)
        {
            left = [.. Testbeds];
            Testbeds.Clear();
        }
        foreach (var testbed in left)
        {
            testbed.DisposeNow();
        }
    }
}
