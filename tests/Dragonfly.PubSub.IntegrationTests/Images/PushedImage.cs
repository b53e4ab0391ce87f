using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// A real registry (Debian's docker-registry) holding the two-platform test image
/// (linux/amd64 + linux/arm64 behind an OCI index) at <see cref="Repository"/>:<see cref="Tag"/>,
/// pushed with skopeo. Registry, image and skopeo home belong to the cluster (disposed with it).
/// </summary>
public sealed class PushedImage
{
    public const string Repository = "apps/demo";
    public const string Tag = "1.0";

    private PushedImage(RegistryServer registry, TestImage image, Skopeo skopeo, string? credentials)
    {
        Registry = registry;
        Image = image;
        Skopeo = skopeo;
        Credentials = credentials;
    }

    public RegistryServer Registry { get; }

    public TestImage Image { get; }

    public Skopeo Skopeo { get; }

    /// <summary><c>user:password</c> of a registry with basic auth, else null.</summary>
    public string? Credentials { get; }

    /// <summary><c>127.0.0.1:&lt;port&gt;/apps/demo:1.0</c>, as dfpub preheat takes it.</summary>
    public string Reference => $"{Registry.Name}/{Repository}:{Tag}";

    public TestImagePlatform Arm64 => Image["linux/arm64"];

    public TestImagePlatform Amd64 => Image["linux/amd64"];

    /// <summary>
    /// Builds the image (<paramref name="layerBytes"/> of random data per layer, two layers per
    /// platform), starts a registry (with basic auth when <paramref name="user"/> is given) and pushes it.
    /// </summary>
    public static async Task<PushedImage> StartAsync(TestCluster cluster, int seed, int layerBytes, (string User, string Password)? user = null)
    {
        var image = cluster.Own(TestImage.MultiPlatform(Tag, seed, layers: 2, layerBytes: layerBytes));
        var skopeo = cluster.Own(new Skopeo());
        var registry = cluster.Own(await RegistryServer.StartAsync(
            user is { } u ? new Dictionary<string, string> { [u.User] = u.Password } : null));
        var credentials = user is { } login ? $"{login.User}:{login.Password}" : null;
        await skopeo.PushAsync(image, registry.Name, Repository, Tag, credentials);
        var pushed = new PushedImage(registry, image, skopeo, credentials);
        cluster.Log($"pushed {pushed.Reference} (index {image.RootDigest}) to docker-registry on port {registry.Port}{(user is null ? "" : " with basic auth")}; "
            + string.Join("; ", image.Platforms.Select(p => $"{p.Platform}: {string.Join(", ", p.Blobs.Select(b => $"{Short(b.ToString())} {image.Size(b)} B"))}")));
        return pushed;
    }

    /// <summary>
    /// The image in a registry with Bearer token auth: the registry trusts the JWTs of <paramref name="tokens"/>,
    /// the in-test token service (Distribution issues none), which grants <paramref name="user"/> what it asks.
    /// </summary>
    public static async Task<PushedImage> StartBehindTokenServiceAsync(TestCluster cluster, int seed, int layerBytes, TokenServer tokens, string user, string password)
    {
        var image = cluster.Own(TestImage.MultiPlatform(Tag, seed, layers: 2, layerBytes: layerBytes));
        var skopeo = cluster.Own(new Skopeo());
        var registry = cluster.Own(await RegistryServer.StartAsync(tokens: tokens));
        var credentials = $"{user}:{password}";
        await skopeo.PushAsync(image, registry.Name, Repository, Tag, credentials);
        cluster.Log($"pushed {registry.Name}/{Repository}:{Tag} to docker-registry on port {registry.Port} with Bearer token auth (token service {tokens.Realm})");
        return new PushedImage(registry, image, skopeo, credentials);
    }

    /// <summary>The platform that holds <paramref name="digest"/> (config or layer), for messages.</summary>
    public string Describe(string digest)
    {
        foreach (var platform in Image.Platforms)
        {
            if (platform.Config.ToString() == digest)
            {
                return $"{Short(digest)} ({platform.Platform} config)";
            }
            if (platform.Layers.Any(l => l.ToString() == digest))
            {
                return $"{Short(digest)} ({platform.Platform} layer)";
            }
        }
        return $"{Short(digest)} (not a blob of the test image)";
    }

    public static string Short(string digest) => digest.Length > 19 ? digest[..19] + "…" : digest;
}
