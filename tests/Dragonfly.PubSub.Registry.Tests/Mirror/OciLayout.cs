using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>What a pull wrote into an OCI layout directory.</summary>
internal static class OciLayout
{
    public static IReadOnlyDictionary<ContentDigest, byte[]> Blobs(string directory) =>
        Directory.GetFiles(Path.Combine(directory, "blobs", "sha256"))
            .ToDictionary(f => ContentDigest.Parse("sha256:" + Path.GetFileName(f)), File.ReadAllBytes);
}
