namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>Settings of the registry mirror. Immutable.</summary>
public sealed record RegistryMirrorOptions
{
    /// <summary>
    /// The registry served when a request has no <c>?ns=</c> (dfagent <c>--registry-mirror URL</c>);
    /// null: only requests with <c>?ns=&lt;registry&gt;</c> (containerd) are served.
    /// </summary>
    public Uri? Upstream { get; init; }

    /// <summary>
    /// The registries a <c>?ns=</c> may name (<c>host[:port]</c>); null: any. The upstream of
    /// <see cref="Upstream"/> is always allowed. Set it when the mirror port is reachable by others,
    /// so the agent cannot be used to fetch from arbitrary hosts.
    /// </summary>
    public IReadOnlyCollection<string>? AllowedRegistries { get; init; }

    /// <summary>How long a tag → digest answer is reused; manifests by digest are immutable and kept.</summary>
    public TimeSpan TagCacheDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many manifests the cache keeps (least recently used go first).</summary>
    public int MaxCachedManifests { get; init; } = 1024;

    /// <summary>The realm of the Basic challenge with which the mirror asks clients for credentials.</summary>
    public string Realm { get; init; } = "Dragonfly registry mirror";
}
