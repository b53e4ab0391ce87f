using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

public sealed class PieceBitmapTests
{
    [Fact]
    public void RoundTrip_KeepsTheBitsInWireOrder()
    {
        var bitmap = new PieceBitmap(10);
        bitmap.Set(0);
        bitmap.Set(3);
        bitmap.Set(9);

        var bytes = bitmap.ToBytes();
        var back = PieceBitmap.FromBytes(bytes, 10);

        Assert.Equal([0b0000_1001, 0b0000_0010], bytes);
        Assert.Equal([0, 3, 9], back.SetIndexes());
        Assert.Equal(3, back.CountSet);
    }

    [Fact]
    public void FromBytes_DropsSpareBitsAndToleratesShortInput()
    {
        var fromNoise = PieceBitmap.FromBytes([0xFF, 0xFF, 0xFF], 10);
        var fromShort = PieceBitmap.FromBytes([0x01], 20);

        Assert.Equal(10, fromNoise.CountSet);
        Assert.True(fromNoise.IsComplete);
        Assert.Equal([0xFF, 0x03], fromNoise.ToBytes());
        Assert.Equal([0], fromShort.SetIndexes());
    }

    [Fact]
    public void Set_ReportsWhetherTheBitWasNew()
    {
        var bitmap = new PieceBitmap(3);

        Assert.True(bitmap.Set(1));
        Assert.False(bitmap.Set(1));
        Assert.False(bitmap.IsComplete);
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap.Set(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => bitmap[-1]);
    }

    [Fact]
    public void Full_AndEmpty_AreCompleteAsExpected()
    {
        Assert.True(PieceBitmap.Full(13).IsComplete);
        Assert.Equal(13, PieceBitmap.Full(13).CountSet);
        Assert.True(new PieceBitmap(0).IsComplete);
        Assert.Empty(new PieceBitmap(0).ToBytes());
    }
}
