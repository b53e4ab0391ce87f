using System.Net;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Registry.Client;

/// <summary>How <see cref="RegistryClient"/> reaches registries. Immutable.</summary>
public sealed record RegistryClientOptions
{
    /// <summary>Docker Hub's name in references and where its API really is.</summary>
    public static readonly Uri DockerHubApi = new("https://registry-1.docker.io/");

    /// <summary>Plain HTTP for <c>localhost</c> and loopback IPs (like Docker's default insecure 127.0.0.0/8).</summary>
    public bool PlainHttpForLoopback { get; init; } = true;

    /// <summary>More registries (<c>host[:port]</c>) spoken to over plain HTTP.</summary>
    public IReadOnlyCollection<string> InsecureRegistries { get; init; } = [];

    /// <summary>Explicit API URLs by registry name; they win over the scheme rules.</summary>
    public IReadOnlyDictionary<string, Uri> Endpoints { get; init; } = new Dictionary<string, Uri>();

    /// <summary>Bound on a manifest, token or ping request (blob downloads are bounded by the caller).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a verified "these credentials may pull" answer is reused (mirror blob requests).</summary>
    public TimeSpan AccessCacheDuration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest manifest or image config the client reads into memory.</summary>
    public int MaxManifestBytes { get; init; } = 4 * 1024 * 1024;

    public string UserAgent { get; init; } = "dragonfly-pubsub-registry/1.0";

    /// <summary>Where the API of <paramref name="registry"/> (as in an image reference) lives.</summary>
    public RegistryEndpoint EndpointFor(string registry)
    {
        if (!ImageReference.IsValidRegistry(registry))
        {
            throw new FormatException($"'{registry}' is not a registry host[:port]");
        }
        if (Endpoints.TryGetValue(registry, out var explicitUrl))
        {
            return new RegistryEndpoint(registry, explicitUrl);
        }
        if (registry == ImageReference.DockerHub)
        {
            return new RegistryEndpoint(registry, DockerHubApi);
        }
        var scheme = UsesPlainHttp(registry) ? "http" : "https";
        return new RegistryEndpoint(registry, new Uri($"{scheme}://{registry}/"));
    }

    public bool UsesPlainHttp(string registry)
    {
        if (InsecureRegistries.Contains(registry, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }
        if (!PlainHttpForLoopback)
        {
            return false;
        }
        var host = HostOf(registry);
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    private static string HostOf(string registry)
    {
        if (registry.StartsWith('['))
        {
            var close = registry.IndexOf(']');
            return registry[1..close];
        }
        var colon = registry.LastIndexOf(':');
        return colon < 0 ? registry : registry[..colon];
    }
}
