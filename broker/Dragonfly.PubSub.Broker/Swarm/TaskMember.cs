using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>One peer in one task. Owned by the shard that owns the task.</summary>
internal sealed class TaskMember
{
    private int _held;
    private Google.Protobuf.ByteString? _wireBitmap;

    public TaskMember(PeerSession session, PieceBitmap bitmap, bool publisher, long joinOrder = 0)
    {
        Session = session;
        Publisher = publisher;
        JoinOrder = joinOrder;
        Bitmap = bitmap;
        _held = bitmap.CountSet;
    }

    public PeerSession Session { get; }
    public string PeerId => Session.PeerId;

    /// <summary>The pieces it holds. Change it only through <see cref="Replace"/> and <see cref="Add"/>, which keep the count.</summary>
    public PieceBitmap Bitmap { get; private set; }
    public bool Publisher { get; set; }

    /// <summary>When it joined the task, relative to the other members (the earliest of a cluster is its gateway).</summary>
    public long JoinOrder { get; }

    /// <summary>Its place in <see cref="SwarmTask"/>'s member list (for drawing random candidates in O(1)).</summary>
    public int Slot { get; set; } = -1;

    /// <summary>The parents in the latest ParentSet sent to this peer for this task.</summary>
    public List<ParentLink> Parents { get; } = [];

    /// <summary>Members whose latest ParentSet names this one: who hears of its new pieces, who needs a new set when it leaves.</summary>
    public HashSet<TaskMember> Children { get; } = [];

    /// <summary>Its ticket to pull this task from other peers (secure mode), and when that ticket expires.</summary>
    public Google.Protobuf.ByteString? Ticket { get; set; }
    public DateTimeOffset TicketExpires { get; set; }

    /// <summary>Parents this peer reported a corrupt piece from: never offered to it again for this task.</summary>
    public HashSet<string> CorruptParents { get; } = new(StringComparer.Ordinal);

    public int HeldPieces => _held;

    /// <summary>
    /// <see cref="Bitmap"/> as the bytes a ParentSet carries, copied once per change and shared by every
    /// ParentSet that names this member until then (ByteString is immutable), instead of once per set.
    /// </summary>
    public Google.Protobuf.ByteString WireBitmap => _wireBitmap ??= Google.Protobuf.ByteString.CopyFrom(Bitmap.AsSpan());

    public bool IsComplete => _held == Bitmap.PieceCount;

    public int OrdinaryParents
    {
        get
        {
            var count = 0;
            foreach (var parent in Parents)
            {
                count += parent.LastResort ? 0 : 1;
            }
            return count;
        }
    }

    public bool HasParent(TaskMember parent)
    {
        foreach (var link in Parents)
        {
            if (ReferenceEquals(link.Member, parent))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A new JoinTask replaced what it holds.</summary>
    public void Replace(PieceBitmap bitmap)
    {
        Bitmap = bitmap;
        _held = bitmap.CountSet;
        _wireBitmap = null;
    }

    /// <summary>Marks a piece held; false when it was already.</summary>
    public bool Add(int index)
    {
        if (!Bitmap.Set(index))
        {
            return false;
        }
        _held++;
        _wireBitmap = null;
        return true;
    }
}
