using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>
/// Piece news held until the shard's loop has applied the commands queued now: one PieceAvailable per
/// (child, task), naming every parent that gained pieces (the rest in <c>more</c>). Under load the loop
/// takes many piece reports per batch, and a child with 16 parents hears of them in one event instead of
/// one per report (~60 per second per downloading agent, measured); an idle loop flushes after each
/// command, so news is not delayed. Only for children whose Hello set <c>merged_piece_news</c>.
/// Runs on the shard's loop only.
/// </summary>
internal sealed class PieceNews
{
    private readonly Dictionary<(PeerSession Child, string Digest), PieceAvailable> _pending = [];

    public void Add(PeerSession child, string digest, string holder, IReadOnlyList<int> indexes)
    {
        if (!_pending.TryGetValue((child, digest), out var news))
        {
            _pending[(child, digest)] = new PieceAvailable { Digest = digest, PeerId = holder, Indexes = { indexes } };
            return;
        }
        if (news.PeerId == holder)
        {
            news.Indexes.Add(indexes);
            return;
        }
        foreach (var more in news.More)
        {
            if (more.PeerId == holder)
            {
                more.Indexes.Add(indexes);
                return;
            }
        }
        news.More.Add(new PieceHolder { PeerId = holder, Indexes = { indexes } });
    }

    /// <summary>Sends what is held, one event per (child, task).</summary>
    public void Flush()
    {
        if (_pending.Count == 0)
        {
            return;
        }
        foreach (var ((child, _), news) in _pending)
        {
            child.Send(new SchedulerEvent { PieceAvailable = news });
        }
        _pending.Clear();
    }
}
