namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// One change of a URL task. <paramref name="Incarnation"/> tells apart the tasks that had the same id
/// one after the other (a failed task is forgotten; a later registration starts a new one).
/// <paramref name="Error"/> is set for <see cref="UrlTaskPhase.Failed"/> (one line, no credentials).
/// </summary>
public sealed record UrlTaskUpdate(string TaskId, long Incarnation, UrlTaskPhase Phase, string? Error = null);
