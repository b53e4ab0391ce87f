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
    /// The registries (<c>host[:port]</c>) a <c>?ns=</c> may name besides <see cref="Upstream"/>; empty (the
    /// default): none, so the mirror is no open fetch proxy for whatever a local process names. <c>*</c> allows
    /// any registry (dfagent <c>--allow-registry '*'</c>).
    /// </summary>
    public IReadOnlyCollection<string> AllowedRegistries { get; init; } = [];

    /// <summary>The entry of <see cref="AllowedRegistries"/> that allows every registry.</summary>
    public const string AnyRegistry = "*";

    /// <summary>How long a tag → digest answer is reused; manifests by digest are immutable and kept.</summary>
    public TimeSpan TagCacheDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many manifests the cache keeps (least recently used go first).</summary>
    public int MaxCachedManifests { get; init; } = 1024;

    /// <summary>The realm of the Basic challenge with which the mirror asks clients for credentials.</summary>
    public string Realm { get; init; } = "Dragonfly registry mirror";
}
