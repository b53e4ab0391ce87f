using System.Runtime.InteropServices;

namespace Dragonfly.PubSub.Bench.Swarm.Processes;

/// <summary>
/// getrusage(RUSAGE_CHILDREN): CPU time of every child this process has reaped. The difference
/// across a phase is the CPU of the short-lived commands that ran and ended in it (curl).
/// </summary>
internal static partial class ChildUsage
{
    private const int RusageChildren = -1;

    public static double CpuSeconds()
    {
        var usage = new Rusage();
        if (GetRusage(RusageChildren, ref usage) != 0)
        {
            throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        }
        return usage.UserSeconds + usage.UserMicroseconds / 1e6 + usage.SystemSeconds + usage.SystemMicroseconds / 1e6;
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetRusage(int who, ref Rusage usage);

    // struct rusage on 64-bit Linux: two timevals, then 14 longs.
    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        public long MaxRss, Ixrss, Idrss, Isrss, Minflt, Majflt, Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals, Nvcsw, Nivcsw;
    }
}
