namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary><c>&lt;data-dir&gt;/agent.json</c>, written by dfagent once its listeners are bound.</summary>
internal sealed record AgentReady(int Pid, string PeerId, int PeerPort, int HttpPort, string Socket);
