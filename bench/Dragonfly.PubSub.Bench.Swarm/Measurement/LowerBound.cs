namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>
/// The least time any system needs to give a file to N peers (Kumar &amp; Ross, 2006):
/// max(F/u_s, F/d_min, N·F/(u_s + Σu_i)), in seconds, rates in bytes per second.
/// </summary>
internal static class LowerBound
{
    public static double DMinSeconds(long fileBytes, double sourceUpload, IReadOnlyList<double> peerUploads, IReadOnlyList<double> peerDownloads)
    {
        if (peerUploads.Count == 0 || peerUploads.Count != peerDownloads.Count)
        {
            throw new ArgumentException("one upload and one download rate per peer, at least one peer");
        }
        double file = fileBytes;
        var fromSource = file / sourceUpload;
        var slowestDownload = file / peerDownloads.Min();
        var swarmCapacity = peerUploads.Count * file / (sourceUpload + peerUploads.Sum());
        return Math.Max(fromSource, Math.Max(slowestDownload, swarmCapacity));
    }

    /// <summary>Every link at the same rate: the testbed's case.</summary>
    public static double DMinSeconds(long fileBytes, int peers, double linkBytesPerSecond) =>
        DMinSeconds(fileBytes, linkBytesPerSecond, Enumerable.Repeat(linkBytesPerSecond, peers).ToArray(), Enumerable.Repeat(linkBytesPerSecond, peers).ToArray());

    /// <summary>One origin serving everyone: max(N·F/u_s, F/d_min).</summary>
    public static double ClientServerSeconds(long fileBytes, int peers, double linkBytesPerSecond) =>
        Math.Max(peers * (double)fileBytes / linkBytesPerSecond, fileBytes / linkBytesPerSecond);
}
