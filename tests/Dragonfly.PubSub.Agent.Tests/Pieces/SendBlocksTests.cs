using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

public sealed class SendBlocksTests
{
    [Fact]
    public void ABlock_IsExactlyAHeaderAndAChunk_NotThePowerOfTwoAbove()
    {
        var blocks = new SendBlocks(512 * 1024, keep: 2);
        Assert.Equal(PieceProtocol.ResponseHeaderLength + 512 * 1024, blocks.Rent().Length);
    }

    [Fact]
    public void ReturnedBlocks_AreReused_UpToKeep()
    {
        var blocks = new SendBlocks(1024, keep: 2);
        var rented = new[] { blocks.Rent(), blocks.Rent(), blocks.Rent() };
        Assert.Equal(3, rented.Distinct().Count());
        foreach (var block in rented)
        {
            blocks.Return(block);
        }

        var again = new[] { blocks.Rent(), blocks.Rent(), blocks.Rent() };
        // Two came back from the pool, the third was kept by no one and is new.
        Assert.Equal(2, again.Count(b => rented.Contains(b)));
    }
}
