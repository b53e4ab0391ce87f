using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// What a piece's bytes must hash to, checked while they stream in: its own SHA-256 digest (the
/// usual case; a digest converts to a check), or, for a download proving the whole file by the
/// manifest's chain (<see cref="WholeFileProof.PieceChain"/>), SHA-256 run from the chaining value
/// before the piece (<see cref="StartState"/>, empty for the first piece) to
/// <see cref="Expected"/>: the chaining value after it, or for the last piece the finished hash,
/// the content id itself.
/// </summary>
internal readonly record struct PieceCheck
{
    public ReadOnlyMemory<byte> Expected { get; init; }

    public PieceCheckKind Kind { get; init; }

    /// <summary>The chaining value before the piece (empty: the file's first piece).</summary>
    public ReadOnlyMemory<byte> StartState { get; init; }

    /// <summary>Where the piece starts in the file: the bytes the chaining value has hashed.</summary>
    public long Offset { get; init; }

    public static PieceCheck Digest(ReadOnlyMemory<byte> digest) => new() { Expected = digest, Kind = PieceCheckKind.Digest };

    public static implicit operator PieceCheck(ReadOnlyMemory<byte> digest) => Digest(digest);

    public static implicit operator PieceCheck(byte[] digest) => Digest(digest);

    /// <summary>
    /// The chain check of piece <paramref name="index"/> from a manifest's chaining values
    /// (<see cref="ManifestChain.From"/>) and the content id the last piece must finish into.
    /// </summary>
    public static PieceCheck Chained(byte[][] chain, byte[] contentId, PieceLayout layout, int index) => new()
    {
        Kind = index == layout.PieceCount - 1 ? PieceCheckKind.ChainFinal : PieceCheckKind.ChainState,
        Expected = index == layout.PieceCount - 1 ? contentId : chain[index],
        StartState = index == 0 ? ReadOnlyMemory<byte>.Empty : chain[index - 1],
        Offset = layout.OffsetOf(index),
    };
}

internal enum PieceCheckKind
{
    /// <summary>The SHA-256 of the piece alone.</summary>
    Digest,

    /// <summary>The chaining value after the piece, from the one before it.</summary>
    ChainState,

    /// <summary>The last piece: the finished SHA-256 of the whole file, from the chaining value before it.</summary>
    ChainFinal,
}
