using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Testing;

/// <summary>One platform of a <see cref="TestImage"/> (e.g. <c>linux/arm64</c>): its manifest, config and layers.</summary>
public sealed record TestImagePlatform(string Platform, ContentDigest ManifestDigest, byte[] Manifest, ContentDigest Config, IReadOnlyList<ContentDigest> Layers)
{
    public string Os => Platform.Split('/')[0];

    public string Architecture => Platform.Split('/')[1];

    /// <summary>The config and the layers: what a pull of this platform fetches besides manifests.</summary>
    public IReadOnlyList<ContentDigest> Blobs => [Config, .. Layers];
}
