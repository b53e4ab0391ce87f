using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Broker.Preheat;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Broker.Tests.Preheat;

/// <summary>
/// The registry side of a preheat, in memory: one image <c>registry.test/app:v1</c>, an index of
/// linux/amd64 and linux/arm64 whose layers share one blob. Counts blob look-ups and hands out a
/// fresh Authorization on each (like a Bearer token service) when <see cref="Authorize"/> is set.
/// </summary>
internal sealed class FakeImageResolver : IImageResolver
{
    public const string Image = "registry.test/app:v1";
    public static readonly RegistryEndpoint Endpoint = new("registry.test", new Uri("https://registry.test/"));

    public static readonly Descriptor AmdConfig = Blob("amd64 config", "application/vnd.oci.image.config.v1+json", 700);
    public static readonly Descriptor AmdLayer = Blob("amd64 layer", "application/vnd.oci.image.layer.v1.tar+gzip", 3000);
    public static readonly Descriptor ArmConfig = Blob("arm64 config", "application/vnd.oci.image.config.v1+json", 710);
    public static readonly Descriptor ArmLayer = Blob("arm64 layer", "application/vnd.oci.image.layer.v1.tar+gzip", 3100);
    public static readonly Descriptor SharedLayer = Blob("shared layer", "application/vnd.oci.image.layer.v1.tar+gzip", 5000);

    private static readonly PlatformImage Amd = PlatformImage("linux/amd64", AmdConfig, AmdLayer, SharedLayer);
    private static readonly PlatformImage Arm = PlatformImage("linux/arm64", ArmConfig, ArmLayer, SharedLayer);
    private static readonly RegistryManifest Index = Manifest("index", MediaTypes.OciIndex);

    private readonly ConcurrentDictionary<ContentDigest, int> _locates = new();

    public static IEnumerable<Descriptor> AllBlobs => [AmdConfig, AmdLayer, ArmConfig, ArmLayer, SharedLayer];

    /// <summary>Thrown by <see cref="ResolveAsync"/> instead of answering.</summary>
    public RegistryException? Error { get; set; }

    /// <summary>Blob look-ups get <c>Bearer token-&lt;n&gt;</c> (n counts per blob); false: anonymous.</summary>
    public bool Authorize { get; set; }

    public int Locates(ContentDigest digest) => _locates.GetValueOrDefault(digest);

    public Task<ResolvedImage> ResolveAsync(ImageReference image, PlatformSelector platforms, CancellationToken cancellationToken)
    {
        if (Error is { } error)
        {
            throw error;
        }
        if (image.ToString() != Image)
        {
            throw new RegistryException(RegistryErrorKind.NotFound, $"manifest {image} not found on {image.Registry} (404: MANIFEST_UNKNOWN)");
        }
        PlatformImage[] all = [Amd, Arm];
        var missing = platforms.Platforms.Where(p => all.All(i => i.Platform != p)).ToList();
        if (missing.Count > 0)
        {
            throw new RegistryException(RegistryErrorKind.UnknownPlatform,
                $"image {image} has no {string.Join(", ", missing)} image; it has only linux/amd64, linux/arm64");
        }
        var chosen = all.Where(i => platforms.Matches(i.Platform)).ToList();
        return Task.FromResult(new ResolvedImage(image, Endpoint, Index, chosen, [.. all.Select(i => i.Platform)]));
    }

    public Task<BlobLocation> LocateAsync(ImageReference image, ContentDigest digest, CancellationToken cancellationToken)
    {
        var count = _locates.AddOrUpdate(digest, 1, (_, n) => n + 1);
        return Task.FromResult(new BlobLocation(digest, BlobUrl(digest), Authorize ? $"Bearer token-{count}" : null));
    }

    public static Uri BlobUrl(ContentDigest digest) => new($"https://registry.test/v2/app/blobs/{digest}");

    private static Descriptor Blob(string seed, string mediaType, long size) =>
        new(mediaType, ContentDigest.FromHash(SHA256.HashData(Encoding.UTF8.GetBytes(seed))), size);

    private static RegistryManifest Manifest(string seed, string mediaType)
    {
        var content = Encoding.UTF8.GetBytes($"{{\"seed\":\"{seed}\"}}");
        return new RegistryManifest(ContentDigest.FromHash(SHA256.HashData(content)), mediaType, content);
    }

    private static PlatformImage PlatformImage(string platform, Descriptor config, params Descriptor[] layers) =>
        new(Platform.Parse(platform), Manifest(platform, MediaTypes.OciManifest), config, layers);
}
