namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>Where a URL task stands, as registrations and <see cref="UrlTaskNews"/> report it.</summary>
public enum UrlTaskPhase
{
    /// <summary>Registered; no peer fetches it yet (waiting for a seed or a member).</summary>
    Waiting,

    /// <summary>A source peer was told to fetch it (FetchSource).</summary>
    Fetching,

    /// <summary>Every piece is in the swarm and the content digest is verified (the source sent SourceDone, or the swarm held it).</summary>
    Sourced,

    /// <summary>It failed for good (permanent source failure, too many failed sources, nobody fetched it); the coordinator forgot it.</summary>
    Failed,
}
