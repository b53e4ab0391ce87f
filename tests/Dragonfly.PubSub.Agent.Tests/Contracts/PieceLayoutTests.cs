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
        Assert.Equal(PieceLayout.SmallestDefaultPieceSize, layout.PieceSize);
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
        var layout = PieceLayout.For(4 * MiB + 1, 4 * MiB);

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
    [InlineData(1L, 256 * 1024)]
    [InlineData(64L * MiB, 256 * 1024)]            // 256 pieces
    [InlineData(256L * MiB, 256 * 1024)]           // 1024 pieces: at the target, not over it
    [InlineData(256L * MiB + 1, 512 * 1024)]
    [InlineData(512L * MiB, 512 * 1024)]
    [InlineData(1024L * MiB, 1 * MiB)]
    [InlineData(4096L * MiB, 4 * MiB)]
    [InlineData(6L * 1024 * MiB, 4 * MiB)]         // 1536 pieces: 4 MiB is the largest size the target asks for
    public void DefaultPieceSize_CutsSmallerFilesIntoAboutTheTargetCount(long size, int expected)
    {
        var layout = PieceLayout.For(size);

        Assert.Equal(expected, layout.PieceSize);
        Assert.True(layout.PieceCount <= Math.Max(PieceLayout.TargetPieceCount, (int)(size / PieceLayout.DefaultPieceSize) + 1));
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
