namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// What one broker of a fleet sharing Redis publishes of its live view for the others' APIs and dashboards:
/// its listed agents and its tasks (members, progress). Bounded like the dashboard itself.
/// </summary>
internal sealed record FleetShare(string BrokerId, DateTimeOffset At, IReadOnlyList<AgentView> Agents, IReadOnlyList<TaskView> Tasks);
