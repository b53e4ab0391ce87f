using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>What the coordinator's single reader processes, in order.</summary>
internal abstract record SwarmCommand
{
    public sealed record Connect(PeerSession Session) : SwarmCommand;

    public sealed record Disconnect(PeerSession Session) : SwarmCommand;

    /// <summary>An agent's event; <paramref name="Arrived"/> is when it was read off the stream (Stopwatch ticks; 0: unknown).</summary>
    public sealed record Event(PeerSession Session, PeerEvent Message, long Arrived = 0) : SwarmCommand;

    public sealed record Snapshot(TaskCompletionSource<SwarmSnapshot> Reply) : SwarmCommand;

    public sealed record CloseAll : SwarmCommand;

    /// <summary>Creates a URL task after its stat, or joins the existing one with the same id.</summary>
    public sealed record RegisterUrl(UrlTaskRegistration Registration, TaskCompletionSource<UrlTaskResult> Reply) : SwarmCommand;

    /// <summary>The live URL task a registration key leads to (null: none, stat the origin).</summary>
    public sealed record FindUrl(string Key, string? ExpectedDigest, TaskCompletionSource<UrlTaskResult?> Reply, string Requester = "", string Topic = "") : SwarmCommand;

    /// <summary>The live manifest of a URL task (null: not a live URL task).</summary>
    public sealed record UrlManifest(string Digest, TaskCompletionSource<Manifest?> Reply) : SwarmCommand;

    /// <summary>
    /// A join on behalf of a connected peer: the publisher of a task, joined by its Publish call before the
    /// announcement goes out (Reply: false when the peer has no session here).
    /// </summary>
    public sealed record JoinAs(string PeerId, JoinTask Join, TaskCompletionSource<bool> Reply) : SwarmCommand;

    /// <summary>The timer: waiting URL tasks are looked at again.</summary>
    public sealed record Tick : SwarmCommand;

    /// <summary>Cancels the reply of a command that will never be applied (the loop has stopped).</summary>
    public void CancelReply()
    {
        switch (this)
        {
            case Snapshot s:
                s.Reply.TrySetCanceled();
                break;
            case RegisterUrl r:
                r.Reply.TrySetCanceled();
                break;
            case FindUrl f:
                f.Reply.TrySetCanceled();
                break;
            case UrlManifest m:
                m.Reply.TrySetCanceled();
                break;
            case JoinAs j:
                j.Reply.TrySetCanceled();
                break;
        }
    }
}
