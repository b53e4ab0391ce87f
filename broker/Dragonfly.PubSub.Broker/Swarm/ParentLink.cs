namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>One entry of a member's current parent set.</summary>
internal readonly record struct ParentLink(TaskMember Member, bool LastResort)
{
    public string PeerId => Member.Session.PeerId;
}
