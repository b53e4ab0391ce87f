using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Catalogue;

/// <summary>Rules every <see cref="ICatalogueStore"/> shares.</summary>
internal static class CatalogueStores
{
    /// <summary>
    /// One more than the last, and at least the broker's clock in milliseconds, so that the order holds
    /// across restarts and even when a broker starts over with an empty catalogue (its agents remember the
    /// last number they acted on). Never the publisher's clock.
    /// </summary>
    public static long NextSequence(long last, DateTimeOffset now) => Math.Max(last + 1, now.ToUnixTimeMilliseconds());

    /// <summary>"&lt;topic&gt;/&lt;name&gt;", the output path under output-dir: unambiguous, as a name holds no '/' (ArtifactName).</summary>
    public static string SequenceKey(string topic, string name) => topic + "/" + name;

    /// <summary>An announced URL task's manifest with the piece digests and content digest its source found.</summary>
    public static Manifest Completed(Manifest announced, Manifest sourced)
    {
        announced.PieceDigests.Clear();
        announced.PieceDigests.Add(sourced.PieceDigests);
        announced.ContentDigest = sourced.ContentDigest;
        return announced;
    }
}
