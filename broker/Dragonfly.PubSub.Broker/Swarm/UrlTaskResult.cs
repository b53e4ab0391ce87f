using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// The live manifest of a URL task, or why this request cannot join it (<see cref="Conflict"/>: one line
/// for the user; <see cref="ConflictKind"/>: the same as data). <see cref="Incarnation"/> and <see cref="Phase"/> say which task it is and where it
/// stood when the coordinator answered; later changes come as <see cref="UrlTaskNews"/>.
/// </summary>
public sealed record UrlTaskResult(Manifest? Manifest, string? Conflict, long Incarnation = 0, UrlTaskPhase Phase = UrlTaskPhase.Waiting)
{
    public static UrlTaskResult Ok(Manifest manifest, long incarnation = 0, UrlTaskPhase phase = UrlTaskPhase.Waiting) =>
        new(manifest, null, incarnation, phase);

    public TaskErrorKind ConflictKind { get; init; }

    public static UrlTaskResult Refused(string conflict, TaskErrorKind kind) => new(null, conflict) { ConflictKind = kind };
}
