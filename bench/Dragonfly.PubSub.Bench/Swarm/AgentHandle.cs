using Dragonfly.PubSub.Bench.Processes;

namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>An agent that a <see cref="LocalSwarm"/> started.</summary>
internal sealed record AgentHandle(string Name, string DataDir, ChildProcess Process, AgentReady Ready);
