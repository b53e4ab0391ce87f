using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

public sealed class PieceLayoutTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public void EmptyFile_HasNoPieces()
    {
        var layout = PieceLayout.For(0);

        Assert.Equal(0, layout.PieceCount);
        Assert.Equal(PieceLayout.DefaultPieceSize, layout.PieceSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => layout.LengthOf(0));
    }

    [Fact]
    public void ExactMultiple_HasFullLastPiece()
    {
        var layout = PieceLayout.For(3L * 64 * 1024, 64 * 1024);

        Assert.Equal(3, layout.PieceCount);
        Assert.Equal(64 * 1024, layout.LengthOf(2));
        Assert.Equal(2L * 64 * 1024, layout.OffsetOf(2));
    }

    [Fact]
    public void Remainder_MakesAShortLastPiece()
    {
        var layout = PieceLayout.For(4 * MiB + 1);

        Assert.Equal(2, layout.PieceCount);
        Assert.Equal(4 * MiB, layout.LengthOf(0));
        Assert.Equal(1, layout.LengthOf(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => layout.LengthOf(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => layout.LengthOf(-1));
    }

    [Fact]
    public void LargeFile_DoublesThePieceSizeToStayUnderTheMaximumCount()
    {
        var atLimit = PieceLayout.For((long)PieceLayout.MaxPieceCount * 4 * MiB);
        var overLimit = PieceLayout.For((long)PieceLayout.MaxPieceCount * 4 * MiB + 1);
        var huge = PieceLayout.For(1L << 40);

        Assert.Equal(4 * MiB, atLimit.PieceSize);
        Assert.Equal(PieceLayout.MaxPieceCount, atLimit.PieceCount);
        Assert.Equal(8 * MiB, overLimit.PieceSize);
        Assert.True(overLimit.PieceCount <= PieceLayout.MaxPieceCount);
        Assert.Equal(PieceLayout.MaxPieceSize, huge.PieceSize);
        Assert.Equal(huge.Size, Enumerable.Range(0, huge.PieceCount).Sum(i => (long)huge.LengthOf(i)));
    }

    [Theory]
    [InlineData(PieceLayout.MinPieceSize - 1)]
    [InlineData(PieceLayout.MaxPieceSize + 1)]
    public void RequestedPieceSizeOutOfRange_Throws(int pieceSize)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PieceLayout.For(100, pieceSize));
    }

    [Fact]
    public void NegativeSize_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PieceLayout.For(-1));
    }
}
