namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>The content of <c>&lt;data-dir&gt;/agent.json</c>.</summary>
public sealed record AgentInfo(int Pid, string PeerId, int PeerPort, int HttpPort, string? Socket);
