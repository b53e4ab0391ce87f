namespace Dragonfly.PubSub.Contracts;

/// <summary>How an artifact of a given size is cut into pieces.</summary>
public readonly record struct PieceLayout(long Size, int PieceSize)
{
    /// <summary>The piece size of large files (up to <see cref="MaxPieceCount"/> of them); smaller files get smaller pieces.</summary>
    public const int DefaultPieceSize = 4 * 1024 * 1024;

    /// <summary>The smallest piece size <see cref="For"/> chooses by itself.</summary>
    public const int SmallestDefaultPieceSize = 256 * 1024;

    /// <summary>
    /// Files up to 4 GiB are cut into about this many pieces (at least 256 KiB each). A child can pass a
    /// piece on only once it has all of it, so the piece size is how far each receiver trails the source:
    /// 256 → 1024 pieces (1 MiB → 256 KiB for 256 MiB, 512 → 256 KiB for 64 MiB) took dfbench swarm at
    /// 100 Mbit/s from 1.29–1.33 to 1.24–1.27 × D_min (16 × 256 MiB by URL) and from 1.34 to 1.27–1.29
    /// (8 × 64 MiB by URL), session 23. Before that, 16 pieces of 4 MiB for 64 MiB kept eight receivers
    /// waiting on the publisher and 128 of 512 KiB let them trade from the first second (2.5 → 1.65 × D_min).
    /// </summary>
    public const int TargetPieceCount = 1024;

    /// <summary>Piece counts stay at or below this by doubling the piece size for very large files.</summary>
    public const int MaxPieceCount = 4096;

    public const int MinPieceSize = 64 * 1024;
    public const int MaxPieceSize = 64 * 1024 * 1024;

    public int PieceCount => Size == 0 ? 0 : checked((int)((Size + PieceSize - 1) / PieceSize));

    /// <summary>Whether the layout is one a peer can hold: sane piece size and a piece count that fits.</summary>
    public bool IsSupported =>
        Size >= 0 && PieceSize is >= MinPieceSize and <= MaxPieceSize && Size / PieceSize < MaxSupportedPieceCount;

    /// <summary>Far above what <see cref="For"/> produces (<see cref="MaxPieceCount"/>); only a bound for foreign input.</summary>
    public const int MaxSupportedPieceCount = 1 << 20;

    public long OffsetOf(int index) => (long)index * PieceSize;

    public int LengthOf(int index)
    {
        if ((uint)index >= (uint)PieceCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"piece index must be below {PieceCount}");
        }
        return (int)Math.Min(PieceSize, Size - OffsetOf(index));
    }

    /// <summary>
    /// The requested piece size, or: the smallest power of two from 256 KiB to 4 MiB that cuts the file
    /// into at most <see cref="TargetPieceCount"/> pieces, doubled beyond 4 MiB only to keep very large
    /// files at <see cref="MaxPieceCount"/> pieces or fewer.
    /// </summary>
    public static PieceLayout For(long size, int? requestedPieceSize = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (requestedPieceSize is int requested)
        {
            if (requested < MinPieceSize || requested > MaxPieceSize)
            {
                throw new ArgumentOutOfRangeException(nameof(requestedPieceSize), requested,
                    $"piece size must be between {ByteSize.Format(MinPieceSize)} and {ByteSize.Format(MaxPieceSize)}");
            }
            return new PieceLayout(size, requested);
        }
        var pieceSize = SmallestDefaultPieceSize;
        while (pieceSize < DefaultPieceSize && (size + pieceSize - 1) / pieceSize > TargetPieceCount)
        {
            pieceSize *= 2;
        }
        while (pieceSize < MaxPieceSize && (size + pieceSize - 1) / pieceSize > MaxPieceCount)
        {
            pieceSize *= 2;
        }
        return new PieceLayout(size, pieceSize);
    }
}
