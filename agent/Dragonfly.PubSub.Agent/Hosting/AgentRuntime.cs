namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>Facts known only once the agent runs: its identity and the ports it bound.</summary>
public sealed class AgentRuntime(string peerId)
{
    public string PeerId { get; } = peerId;
    public int PeerPort { get; set; }
    public int HttpPort { get; set; }
}
