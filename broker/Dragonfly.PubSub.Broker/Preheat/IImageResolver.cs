using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>The registry side of a preheat: resolve an image for platforms, and say where a blob is and with which Authorization.</summary>
/// <remarks>Both throw <see cref="RegistryException"/> for what a user can act on (unknown image or platform, refused login, unreachable registry).</remarks>
public interface IImageResolver
{
    /// <summary>Tag → manifest (index) → the manifests, configs and layers of the chosen platforms.</summary>
    Task<ResolvedImage> ResolveAsync(ImageReference image, PlatformSelector platforms, CancellationToken cancellationToken);

    /// <summary>The blob's URL and the Authorization to fetch it with, resolved now (Bearer tokens expire).</summary>
    Task<BlobLocation> LocateAsync(ImageReference image, ContentDigest digest, CancellationToken cancellationToken);
}
