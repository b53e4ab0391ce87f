namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>The content of <c>&lt;data-dir&gt;/agent.json</c>; <see cref="ProxyPort"/> is the registry mirror's (absent or -1 without one).</summary>
public sealed record AgentInfo(int Pid, string PeerId, int PeerPort, int HttpPort, string? Socket, int? ProxyPort = null);
