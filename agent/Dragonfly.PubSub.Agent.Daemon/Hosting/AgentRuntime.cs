namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>Facts known only once the agent runs: its identity and the ports it bound.</summary>
public sealed class AgentRuntime(string peerId, AgentIdentity? identity = null)
{
    /// <summary>The peer id every protocol uses: the certificate's CN in secure mode, the store's id with --insecure.</summary>
    public string PeerId { get; } = peerId;

    /// <summary>The certificate this agent authenticates with; null with --insecure.</summary>
    public AgentIdentity? Identity { get; } = identity;

    public bool Tls => Identity is not null;

    public int PeerPort { get; set; }
    public int HttpPort { get; set; }

    /// <summary>The registry mirror's bound port, or -1 when the mirror is off.</summary>
    public int ProxyPort { get; set; } = -1;
}
