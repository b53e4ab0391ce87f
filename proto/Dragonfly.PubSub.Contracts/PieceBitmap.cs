using System.Numerics;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// Which pieces a peer holds. Wire form (proto <c>bytes bitmap</c>, LiteDB): bit i is
/// <c>byte[i / 8] &gt;&gt; (i % 8) &amp; 1</c>. Not thread-safe: each owner guards its own.
/// </summary>
public sealed class PieceBitmap
{
    private readonly byte[] _bits;

    public PieceBitmap(int pieceCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pieceCount);
        PieceCount = pieceCount;
        _bits = new byte[(pieceCount + 7) / 8];
    }

    public int PieceCount { get; }

    public int CountSet
    {
        get
        {
            var count = 0;
            foreach (var b in _bits)
            {
                count += BitOperations.PopCount(b);
            }
            return count;
        }
    }

    public bool IsComplete => CountSet == PieceCount;

    public bool this[int index]
    {
        get
        {
            CheckIndex(index);
            return (_bits[index >> 3] & (1 << (index & 7))) != 0;
        }
    }

    /// <summary>Sets a bit; returns false when it was already set.</summary>
    public bool Set(int index)
    {
        CheckIndex(index);
        ref var b = ref _bits[index >> 3];
        var mask = (byte)(1 << (index & 7));
        if ((b & mask) != 0)
        {
            return false;
        }
        b |= mask;
        return true;
    }

    public void SetAll()
    {
        for (var i = 0; i < PieceCount; i++)
        {
            Set(i);
        }
    }

    public IEnumerable<int> SetIndexes()
    {
        for (var i = 0; i < PieceCount; i++)
        {
            if (this[i])
            {
                yield return i;
            }
        }
    }

    public byte[] ToBytes() => (byte[])_bits.Clone();

    /// <summary>
    /// The wire form without a copy, valid until the bitmap next changes (the broker compares bitmaps for
    /// every candidate of every parent set: a copy each time was most of what it allocated).
    /// </summary>
    public ReadOnlySpan<byte> AsSpan() => _bits;

    /// <summary>Reads the wire form; bits past <paramref name="pieceCount"/> and missing bytes are ignored.</summary>
    public static PieceBitmap FromBytes(ReadOnlySpan<byte> bytes, int pieceCount)
    {
        var bitmap = new PieceBitmap(pieceCount);
        bytes[..Math.Min(bytes.Length, bitmap._bits.Length)].CopyTo(bitmap._bits);
        var spare = bitmap._bits.Length * 8 - pieceCount;
        if (spare > 0)
        {
            bitmap._bits[^1] &= (byte)(0xFF >> spare);
        }
        return bitmap;
    }

    public static PieceBitmap Full(int pieceCount)
    {
        var bitmap = new PieceBitmap(pieceCount);
        bitmap.SetAll();
        return bitmap;
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)PieceCount)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"piece index must be below {PieceCount}");
        }
    }
}
