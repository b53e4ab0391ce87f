using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Registry.Client;

/// <summary>
/// An image resolved for some platforms: the manifest the reference names (an index or a single
/// image manifest), the chosen platforms' images, and every platform the image has.
/// </summary>
public sealed record ResolvedImage(
    ImageReference Reference,
    RegistryEndpoint Endpoint,
    RegistryManifest Root,
    IReadOnlyList<PlatformImage> Images,
    IReadOnlyList<Platform> AvailablePlatforms)
{
    /// <summary>The config and layer blobs of the chosen platforms, each digest once, in manifest order.</summary>
    public IReadOnlyList<Descriptor> Blobs =>
        Images.SelectMany(i => i.Blobs).DistinctBy(b => b.Digest).ToArray();

    /// <summary>The manifests a pull of the chosen platforms reads: the root, then each platform's (once).</summary>
    public IReadOnlyList<RegistryManifest> Manifests =>
        new[] { Root }.Concat(Images.Select(i => i.Manifest)).DistinctBy(m => m.Digest).ToArray();
}
