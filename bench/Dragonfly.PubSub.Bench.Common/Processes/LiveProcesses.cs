using System.Runtime.InteropServices;

namespace Dragonfly.PubSub.Bench.Common.Processes;

/// <summary>
/// The PIDs this benchmark started and has not yet reaped: the last-resort cleanup (process exit
/// after an unhandled failure) kills exactly these, never anything found by name.
/// </summary>
public static partial class LiveProcesses
{
    public const int Sigterm = 15;
    public const int Sigkill = 9;
    private static readonly HashSet<int> Pids = [];
    private static int _killOnExit;

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

    /// <summary>Kills what is left when this process exits without unwinding; once, however often it is called.</summary>
    public static void KillAllOnProcessExit()
    {
        if (Interlocked.Exchange(ref _killOnExit, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
        }
    }

    public static void KillAll()
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
