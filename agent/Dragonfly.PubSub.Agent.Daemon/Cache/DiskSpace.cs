namespace Dragonfly.PubSub.Agent.Cache;

/// <summary>Free and total bytes of the filesystem holding a path.</summary>
internal readonly record struct DiskSpace(long Available, long Total)
{
    /// <summary>Asks the filesystem of <paramref name="path"/> (statvfs); an unreadable one reports plenty, so nothing is evicted for it.</summary>
    public static DiskSpace Of(string path)
    {
        try
        {
            // On Linux DriveInfo takes any path and asks statvfs about the filesystem holding it.
            var drive = new DriveInfo(path);
            return new DiskSpace(drive.AvailableFreeSpace, drive.TotalSize);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return new DiskSpace(long.MaxValue, long.MaxValue);
        }
    }
}
