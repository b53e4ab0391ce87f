namespace Dragonfly.PubSub.Contracts;

/// <summary>How an artifact of a given size is cut into pieces.</summary>
public readonly record struct PieceLayout(long Size, int PieceSize)
{
    public const int DefaultPieceSize = 4 * 1024 * 1024;

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

    /// <summary>4 MiB pieces, doubled until a file has at most <see cref="MaxPieceCount"/> pieces.</summary>
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
        var pieceSize = DefaultPieceSize;
        while (pieceSize < MaxPieceSize && (size + pieceSize - 1) / pieceSize > MaxPieceCount)
        {
            pieceSize *= 2;
        }
        return new PieceLayout(size, pieceSize);
    }
}
