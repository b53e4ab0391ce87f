using System.Diagnostics;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// A small tmpfs the test mounts (a real filesystem that really fills up: ENOSPC) and unmounts on
/// dispose. Mounting needs root (CAP_SYS_ADMIN), as the suite's network-namespace tests do.
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    public string Path { get; }

    /// <exception cref="Xunit.Sdk.XunitException">The mount was refused (not root), with mount's message.</exception>
    public static TmpfsMount Create(string path, long bytes)
    {
        Directory.CreateDirectory(path);
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={bytes},mode=0755", "tmpfs", path);
        if (code != 0)
        {
            throw new Xunit.Sdk.XunitException(
                $"this test mounts a {bytes}-byte tmpfs at {path} to fill a disk for real, and mount refused ({output.Trim()}); run the tests as root (CAP_SYS_ADMIN), as eng/test.sh does in CI");
        }
        return new TmpfsMount(path);
    }

    /// <summary>Bytes free on the mount now.</summary>
    public long AvailableBytes => new DriveInfo(Path).AvailableFreeSpace;

    public void Dispose()
    {
        // Lazy: a process of the test that still has a file open there must not keep the mount.
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path);
        }
        catch (IOException)
        {
        }
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
