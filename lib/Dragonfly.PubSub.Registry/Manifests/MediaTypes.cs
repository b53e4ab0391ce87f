namespace Dragonfly.PubSub.Registry.Manifests;

/// <summary>The manifest media types the client and the mirror understand.</summary>
public static class MediaTypes
{
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string Blob = "application/octet-stream";

    /// <summary>The Accept list of every manifest request, indexes first.</summary>
    public static IReadOnlyList<string> ManifestAccept { get; } = [OciIndex, DockerManifestList, OciManifest, DockerManifest];

    public static bool IsIndex(string mediaType) => mediaType is OciIndex or DockerManifestList;

    public static bool IsImageManifest(string mediaType) => mediaType is OciManifest or DockerManifest;
}
