using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>What the coordinator's single reader processes, in order.</summary>
internal abstract record SwarmCommand
{
    public sealed record Connect(PeerSession Session) : SwarmCommand;

    public sealed record Disconnect(PeerSession Session) : SwarmCommand;

    public sealed record Event(PeerSession Session, PeerEvent Message) : SwarmCommand;

    public sealed record Snapshot(TaskCompletionSource<SwarmSnapshot> Reply) : SwarmCommand;

    public sealed record CloseAll : SwarmCommand;
}
