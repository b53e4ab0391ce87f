namespace Dragonfly.PubSub.Bench.BrokerLoad.Measurement;

/// <summary>One dfbroker of the run and the agents whose tasks rendezvous hashing placed on it.</summary>
/// <param name="Name">Its scheduler as agents name it (<c>127.0.0.1:PORT</c>), what tasks are hashed over.</param>
/// <param name="Tasks">Tasks placed on it.</param>
/// <param name="Agents">Simulated agents whose task is placed on it (publishers included), each one stream to it.</param>
/// <param name="Connected">Of those, connected and joined after set-up.</param>
/// <param name="Latency">NeedParents → ParentSet over every request due from its agents (timeouts counted as in the totals).</param>
internal sealed record BrokerFigures(
    int Index, string Name, int Pid, int Tasks, int Agents, int Connected,
    LatencySummary Latency, ServerComputeFigures ServerCompute, ResourceFigures Resources);
