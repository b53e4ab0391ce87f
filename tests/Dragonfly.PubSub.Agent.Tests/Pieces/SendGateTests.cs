using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

public sealed class SendGateTests
{
    [Fact]
    public async Task TryEnter_QueuesAsManyAsThereAreSlots_ThenTurnsAway()
    {
        var gate = new SendGate(2);
        Assert.True(await gate.TryEnterAsync(CancellationToken.None));
        Assert.True(await gate.TryEnterAsync(CancellationToken.None));

        var waiting = new[] { gate.TryEnterAsync(CancellationToken.None).AsTask(), gate.TryEnterAsync(CancellationToken.None).AsTask() };
        var turnedAway = await gate.TryEnterAsync(CancellationToken.None);

        Assert.False(turnedAway);
        Assert.All(waiting, t => Assert.False(t.IsCompleted));
        gate.Release();
        gate.Release();
        Assert.All(await Task.WhenAll(waiting).Within(), Assert.True);
    }
}
