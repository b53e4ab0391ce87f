using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Registry.Manifests;

/// <summary>
/// Manifest bytes as a registry served them, already verified: <see cref="Digest"/> is the SHA-256
/// of <see cref="Content"/>, and matched the requested digest and the registry's
/// <c>Docker-Content-Digest</c>.
/// </summary>
public sealed class RegistryManifest(ContentDigest digest, string mediaType, byte[] content)
{
    public ContentDigest Digest { get; } = digest;

    public string MediaType { get; } = mediaType;

    public ReadOnlyMemory<byte> Content { get; } = content;

    public long Size => Content.Length;

    public bool IsIndex => MediaTypes.IsIndex(MediaType);

    public override string ToString() => $"{MediaType} {Digest} ({Size} bytes)";
}
