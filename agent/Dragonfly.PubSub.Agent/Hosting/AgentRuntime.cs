namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>Facts known only once the agent runs: its identity and the ports it bound.</summary>
public sealed class AgentRuntime(string peerId)
{
    public string PeerId { get; } = peerId;
    public int PeerPort { get; set; }
    public int HttpPort { get; set; }

    /// <summary>The registry mirror's bound port, or -1 when the mirror is off.</summary>
    public int ProxyPort { get; set; } = -1;
}
