namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// How a finished download proves it is the whole file its task names. Every piece is checked as
/// it streams in (against its own SHA-256, or with <see cref="PieceChain"/> against the manifest's
/// chaining values); this decides what more is done.
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

    /// <summary>
    /// What <see cref="Sha256"/> proves, in one pass instead of two, for a content task whose manifest
    /// lists the SHA-256 chaining values at its piece boundaries (<c>piece_chain</c>, recorded by the
    /// publisher): each piece is checked by running SHA-256 from the state before it to the state after
    /// it, the last one by finishing the hash into the content id, so that the pieces' checks together
    /// are the whole file's SHA-256 and nothing is hashed twice. A run that starts with pieces kept from
    /// an earlier one (checked against their digests only), a manifest without a usable chain, or a
    /// machine without libcrypto's SHA256_* falls back to <see cref="Sha256"/>.
    /// </summary>
    PieceChain,
}
