using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>The manifest of the registered URL task as this caller sees it, or why there is none (one line, no credentials).</summary>
public sealed record UrlTaskOutcome(Manifest? Manifest, UrlTaskErrorKind ErrorKind, string? Error)
{
    public static UrlTaskOutcome Ok(Manifest manifest) => new(manifest, default, null);

    public static UrlTaskOutcome Failed(UrlTaskErrorKind kind, string error) => new(null, kind, error);
}
