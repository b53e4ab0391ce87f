using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>
/// The manifest of the registered URL task as this caller sees it, or why there is none (one line, no
/// credentials). <see cref="Incarnation"/> and <see cref="Phase"/>: which task it joined and where it
/// stood then (see <see cref="UrlTaskNews"/>). <see cref="Cause"/>: what the origin answered, when it
/// was the origin that refused (the status of <see cref="ErrorKind"/> lumps e.g. access denied with other preconditions).
/// </summary>
public sealed record UrlTaskOutcome(Manifest? Manifest, UrlTaskErrorKind ErrorKind, string? Error,
    long Incarnation = 0, UrlTaskPhase Phase = UrlTaskPhase.Waiting)
{
    public TaskErrorKind Cause { get; init; }

    public static UrlTaskOutcome Ok(Manifest manifest, long incarnation = 0, UrlTaskPhase phase = UrlTaskPhase.Waiting) =>
        new(manifest, default, null, incarnation, phase);

    public static UrlTaskOutcome Failed(UrlTaskErrorKind kind, string error) => new(null, kind, error);
}
