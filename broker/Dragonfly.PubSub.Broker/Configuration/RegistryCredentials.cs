namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>
/// The logins the broker uses to resolve images and to let its seed pull blobs: per registry
/// (config <c>registries</c>), else <see cref="Default"/> (<c>DFBROKER_REGISTRY_USERNAME/PASSWORD</c>),
/// else anonymous. Kept in memory only: never logged, never stored in preheat jobs.
/// </summary>
public sealed record RegistryCredentials
{
    public static RegistryCredentials None { get; } = new();

    /// <summary>By registry as image references name it (<c>host[:port]</c>, case-insensitive).</summary>
    public IReadOnlyDictionary<string, RegistryLogin> PerRegistry { get; init; } = new Dictionary<string, RegistryLogin>(StringComparer.OrdinalIgnoreCase);

    /// <summary>For every registry without its own entry.</summary>
    public RegistryLogin? Default { get; init; }

    /// <summary>The login for <paramref name="registry"/>, or null for anonymous access.</summary>
    public RegistryLogin? For(string registry)
    {
        foreach (var (name, login) in PerRegistry)
        {
            if (string.Equals(name, registry, StringComparison.OrdinalIgnoreCase))
            {
                return login;
            }
        }
        return Default;
    }

    public override string ToString() =>
        $"{PerRegistry.Count} registry login(s){(Default is null ? "" : ", a default login")}";
}
