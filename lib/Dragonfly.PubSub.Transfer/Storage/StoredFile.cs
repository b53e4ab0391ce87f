using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>One file of the content store as the cache sees it.</summary>
/// <param name="Digest">The task id the file is named after.</param>
/// <param name="Partial">A download in progress (<c>partial/</c>) rather than complete content (<c>content/sha256/</c>).</param>
/// <param name="Bytes">Bytes allocated on disk (a sparse partial file holds only the pieces written).</param>
/// <param name="Links">
/// Hard links to the file: more than one means an output path or a published file shares its
/// bytes, so removing the store's name would free nothing.
/// </param>
/// <param name="ChangedAt">When the file's status last changed (created, linked, written), UTC.</param>
public sealed record StoredFile(ContentDigest Digest, bool Partial, string Path, long Bytes, int Links, DateTime ChangedAt)
{
    /// <summary>Only this agent holds the bytes: they count against the cache and removing the file frees them.</summary>
    public bool OwnedByAgent => Links <= 1;
}
