using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Platforms;

namespace Dragonfly.PubSub.Registry.Client;

/// <summary>One platform's image: its verified manifest, config blob and layers.</summary>
public sealed record PlatformImage(Platform Platform, RegistryManifest Manifest, Descriptor Config, IReadOnlyList<Descriptor> Layers)
{
    /// <summary>Config first, then the layers in order.</summary>
    public IReadOnlyList<Descriptor> Blobs => [Config, .. Layers];
}
