using System.Runtime.InteropServices;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Broker;

/// <summary>
/// The PIDs this benchmark started and has not yet reaped. If the process exits without unwinding
/// (an unhandled failure), exactly these are killed, never anything found by name.
/// </summary>
internal static partial class LiveProcesses
{
    public const int Sigterm = 15;
    public const int Sigkill = 9;
    private static readonly HashSet<int> Pids = [];

    static LiveProcesses() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    public static void Add(int pid)
    {
        lock (Pids)
        {
            Pids.Add(pid);
        }
    }

    public static void Remove(int pid)
    {
        lock (Pids)
        {
            Pids.Remove(pid);
        }
    }

    private static void KillAll()
    {
        int[] pids;
        lock (Pids)
        {
            pids = [.. Pids];
            Pids.Clear();
        }
        foreach (var pid in pids)
        {
            _ = Signal(pid, Sigkill);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Signal(int pid, int signal);
}
