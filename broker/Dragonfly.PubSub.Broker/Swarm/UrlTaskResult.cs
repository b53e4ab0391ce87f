using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>The live manifest of a URL task, or why this request cannot join it (<see cref="Conflict"/>: one line for the user).</summary>
public sealed record UrlTaskResult(Manifest? Manifest, string? Conflict)
{
    public static UrlTaskResult Ok(Manifest manifest) => new(manifest, null);

    public static UrlTaskResult Refused(string conflict) => new(null, conflict);
}
