using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Measurement;

/// <summary>
/// The benchmark's scratch folder: on tmpfs (/dev/shm) when it has room, so that the disk is
/// not what is measured; else under the temp folder. Removed when disposed.
/// </summary>
internal sealed class Workspace : IDisposable
{
    private const string Tmpfs = "/dev/shm";

    private Workspace(string path, bool onTmpfs)
    {
        Path = path;
        OnTmpfs = onTmpfs;
    }

    public string Path { get; }

    public bool OnTmpfs { get; }

    /// <summary>Creates a folder with at least <paramref name="needed"/> bytes free below it.</summary>
    public static Workspace Create(string scenario, long needed)
    {
        var candidates = new List<(string Root, bool Tmpfs)>();
        if (Directory.Exists(Tmpfs))
        {
            candidates.Add((Tmpfs, true));
        }
        candidates.Add((System.IO.Path.GetTempPath(), false));
        foreach (var (root, tmpfs) in candidates)
        {
            if (new DriveInfo(root).AvailableFreeSpace < needed)
            {
                continue;
            }
            var path = System.IO.Path.Combine(root, $"dfbench-{scenario}-{Environment.ProcessId}");
            // World-readable: nginx's worker runs as an unprivileged user.
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(path);
            }
            else
            {
                Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }
            return new Workspace(path, tmpfs);
        }
        throw new UserFacingException($"neither {Tmpfs} nor {System.IO.Path.GetTempPath()} has {ByteSize.Format(needed)} free; use a smaller --size");
    }

    /// <summary>A sub-folder, created, world-readable like the workspace.</summary>
    public string Folder(string name)
    {
        var path = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(path);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"dfbench: could not remove {Path}: {e.Message}");
        }
    }
}
