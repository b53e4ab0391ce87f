namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>
/// A full disk while downloading: recognising it (ENOSPC, EDQUOT, as .NET and LiteDB surface them),
/// and stopping a little before it, so the agent database can still record the verified pieces
/// (LiteDB is not to be trusted after a failed write).
/// </summary>
public static class DiskFull
{
    /// <summary>Bytes a download leaves free on its filesystem for the agent database to record progress.</summary>
    public const long Reserve = 1L << 20;

    private const int ENOSPC = 28;
    private const int EDQUOT = 122;

    /// <summary>True when <paramref name="error"/> (or what it wraps) says the disk or the user's quota is full.</summary>
    public static bool Is(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            // On Unix an IOException from a failed syscall carries the errno as its HResult.
            if (e is IOException io && (io.HResult is ENOSPC or EDQUOT
                || io.Message.Contains("No space left on device", StringComparison.Ordinal)
                || io.Message.Contains("Disk quota exceeded", StringComparison.Ordinal)))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Throws the disk-full error before <paramref name="bytes"/> more would leave less than
    /// <see cref="Reserve"/> free on the filesystem of <paramref name="directory"/>.
    /// </summary>
    /// <exception cref="IOException">HResult ENOSPC: not enough room.</exception>
    public static void EnsureRoom(string directory, long bytes)
    {
        long available;
        try
        {
            available = new DriveInfo(directory).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return; // Cannot tell: let the write itself find out.
        }
        if (available < bytes + Reserve)
        {
            throw new IOException($"No space left on device: {available} bytes free, a piece needs {bytes} and the agent database keeps {Reserve}", ENOSPC);
        }
    }
}
