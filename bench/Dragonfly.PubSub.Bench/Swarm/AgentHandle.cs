using Dragonfly.PubSub.Bench.Processes;

namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>An agent that a <see cref="LocalSwarm"/> started; <paramref name="Tls"/>: what every CLI run against it must pass too (<c>--insecure</c> with --tls off).</summary>
internal sealed record AgentHandle(string Name, string DataDir, ChildProcess Process, AgentReady Ready, IReadOnlyList<string> Tls);
