namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// How a finished download proves it is the whole file its task names. Every piece is always
/// checked against its own SHA-256 as it streams in; this decides what more is done.
/// </summary>
public enum WholeFileProof
{
    /// <summary>
    /// The SHA-256 of the whole file is computed (in piece order, from the arriving buffers where
    /// it can) and compared: a second hash over every byte. Needed where the digest to meet comes
    /// from elsewhere than the party that listed the piece digests: a URL task's source (the
    /// origin's bytes, against <c>--digest</c> if one was named), image blobs (the OCI digest the
    /// registry client named), a digest a user asked for by name, and any manifest not registered
    /// with the broker.
    /// </summary>
    Sha256,

    /// <summary>
    /// The manifest came from the broker, which registered it under its content id: the publisher
    /// hashed the file once to produce both the content id and the piece digests, and the broker
    /// binds the two (one manifest per content id, and never another piece layout for it). With
    /// every piece matching the digests of that manifest, the file is the one the content id names
    /// as far as the publisher is trusted; no second pass over the bytes is needed. A URL task's
    /// member likewise: its source reported the piece digests and, once it had the whole file, what
    /// that hashes to (<c>TaskSourced</c>); where that word is missing at the end, or this agent was
    /// the source, the file is hashed once after its last piece.
    /// </summary>
    ManifestBinding,
}
