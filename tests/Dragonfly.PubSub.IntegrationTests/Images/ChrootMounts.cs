using System.Diagnostics;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// What a program needs mounted inside an unpacked image to run there under <c>chroot</c>: <c>/proc</c> (the
/// .NET host finds itself through /proc/self/exe), the machine's <c>/dev</c> (null, urandom), and any of the
/// test's folders at the same path inside (a test cluster's root: data dirs, sockets, outputs). Dispose
/// unmounts them all, in reverse order, also after a failure. Needs root (CAP_SYS_ADMIN, CAP_SYS_CHROOT).
/// </summary>
public sealed class ChrootMounts : IDisposable
{
    private readonly Stack<string> _mounted = new();

    private ChrootMounts(string rootfs) => Rootfs = rootfs;

    public string Rootfs { get; }

    /// <summary>Mounts /proc and /dev into <paramref name="rootfs"/>, and binds each of <paramref name="sameInside"/> to its own path inside.</summary>
    public static ChrootMounts Create(string rootfs, params string[] sameInside)
    {
        var mounts = new ChrootMounts(rootfs);
        try
        {
            mounts.Mount(["-t", "proc", "proc"], "/proc");
            mounts.Mount(["--bind", "/dev"], "/dev");
            foreach (var path in sameInside)
            {
                mounts.Mount(["--bind", path], path);
            }
            return mounts;
        }
        catch
        {
            mounts.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        while (_mounted.TryPop(out var target))
        {
            // Lazy when busy: a process of the test that still has a file open there must not keep it.
            if (Run("umount", target).Code != 0)
            {
                Run("umount", "-l", target);
            }
        }
    }

    /// <summary>
    /// Deletes <paramref name="dir"/> unless something is mounted inside it (a recursive delete would go through
    /// a bind mount into the machine's /dev or a test's files); then the tree is left and this says so.
    /// </summary>
    public static void DeleteUnlessMounted(string dir)
    {
        var prefix = Path.GetFullPath(dir).TrimEnd('/') + "/";
        var inside = File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4])
            .Where(mountPoint => (mountPoint + "/").StartsWith(prefix, StringComparison.Ordinal))
            .ToList();
        if (inside.Count > 0)
        {
            Console.Error.WriteLine($"not deleting {dir}: still mounted inside it: {string.Join(", ", inside)}");
            return;
        }
        Testing.TempDirectory.Delete(dir);
    }

    private void Mount(string[] source, string pathInside)
    {
        var target = Path.Combine(Rootfs, pathInside.TrimStart('/'));
        Directory.CreateDirectory(target);
        var (code, output) = Run("mount", [.. source, target]);
        if (code != 0)
        {
            throw new Xunit.Sdk.XunitException(
                $"mount {string.Join(' ', source)} {target} was refused ({output.Trim()}): running an image's programs under chroot needs root, as eng/test.sh runs in CI");
        }
        _mounted.Push(target);
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardError.ReadToEnd() + process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
