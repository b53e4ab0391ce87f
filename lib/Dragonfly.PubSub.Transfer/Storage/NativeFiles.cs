using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>
/// The few Linux file calls .NET does not offer: hard links, reflinks (FICLONE) and statx (for
/// the inode and a nanosecond mtime). Every call reports failure as an errno, never throws for
/// it, so callers can fall back to a copy.
/// </summary>
internal static partial class NativeFiles
{
    public const int EPERM = 1;
    public const int EEXIST = 17;
    public const int EXDEV = 18;

    private const int AtFdCwd = -100;
    private const uint StatxBasicStats = 0x7ff;
    private const int AtSymlinkNoFollow = 0x100;

    /// <summary>_IOW(0x94, 9, int): make the destination share the source's extents (btrfs, xfs).</summary>
    private const ulong Ficlone = 0x40049409;

    /// <summary>Links <paramref name="newPath"/> to the file at <paramref name="existing"/>; 0 or the errno.</summary>
    public static int HardLink(string existing, string newPath)
    {
        if (!OperatingSystem.IsLinux())
        {
            return EPERM;
        }
        return link(existing, newPath) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Makes <paramref name="target"/> a copy-on-write clone of <paramref name="source"/>; false when the filesystem cannot.</summary>
    public static bool TryClone(SafeFileHandle source, SafeFileHandle target)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }
        var added = false;
        var addedTarget = false;
        try
        {
            source.DangerousAddRef(ref added);
            target.DangerousAddRef(ref addedTarget);
            return ioctl(target.DangerousGetHandle().ToInt32(), Ficlone, source.DangerousGetHandle().ToInt32()) == 0;
        }
        finally
        {
            if (added)
            {
                source.DangerousRelease();
            }
            if (addedTarget)
            {
                target.DangerousRelease();
            }
        }
    }

    /// <summary>Inode, size and mtime of <paramref name="path"/> (following links), or null.</summary>
    public static unsafe FileStamp? Stat(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        // struct statx has one layout on every architecture: read the fields by offset.
        Span<byte> buffer = stackalloc byte[256];
        fixed (byte* p = buffer)
        {
            if (statx(AtFdCwd, path, 0, StatxBasicStats, p) != 0)
            {
                return null;
            }
        }
        var inode = BinaryPrimitives.ReadUInt64LittleEndian(buffer[32..]);
        var size = BinaryPrimitives.ReadInt64LittleEndian(buffer[40..]);
        var mtimeSeconds = BinaryPrimitives.ReadInt64LittleEndian(buffer[112..]);
        var mtimeNanos = BinaryPrimitives.ReadUInt32LittleEndian(buffer[120..]);
        return new FileStamp(inode, size, (mtimeSeconds * 1_000_000_000L) + mtimeNanos);
    }

    /// <summary>
    /// Allocated bytes (a sparse partial file holds only what was written), link count and status
    /// change time (UTC ticks) of <paramref name="path"/> without following a final symlink, or null.
    /// </summary>
    public static unsafe (long Allocated, uint Links, long ChangedTicks)? StatUsage(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        Span<byte> buffer = stackalloc byte[256];
        fixed (byte* p = buffer)
        {
            if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, p) != 0)
            {
                return null;
            }
        }
        var links = BinaryPrimitives.ReadUInt32LittleEndian(buffer[16..]);
        var blocks = BinaryPrimitives.ReadUInt64LittleEndian(buffer[48..]);
        var ctimeSeconds = BinaryPrimitives.ReadInt64LittleEndian(buffer[96..]);
        var changed = DateTime.UnixEpoch.Ticks + (ctimeSeconds * TimeSpan.TicksPerSecond);
        return ((long)blocks * 512, links, changed);
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldpath, string newpath);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, int arg);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
