using System.Text.Json;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// One platform of a pushed image, pulled back from the registry (<c>skopeo copy --override-arch … dir:</c>)
/// with its layers unpacked in order into <see cref="Rootfs"/>, as a container runtime would, and its config.
/// </summary>
public sealed class ImageRoot
{
    private ImageRoot(string rootfs, JsonElement config, string architecture)
    {
        Rootfs = rootfs;
        Config = config;
        Architecture = architecture;
    }

    public string Rootfs { get; }

    /// <summary>The image config (<c>application/vnd.oci.image.config.v1+json</c>).</summary>
    public JsonElement Config { get; }

    /// <summary>The <c>architecture</c> the config names (amd64, arm64).</summary>
    public string Architecture { get; }

    public string User => Config.GetProperty("config").GetProperty("User").GetString() ?? "";

    public IReadOnlyList<string> Entrypoint =>
        [.. Config.GetProperty("config").GetProperty("Entrypoint").EnumerateArray().Select(e => e.GetString() ?? "")];

    public IReadOnlyDictionary<string, string> Labels =>
        Config.GetProperty("config").GetProperty("Labels").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");

    public IReadOnlyList<string> Env =>
        [.. Config.GetProperty("config").GetProperty("Env").EnumerateArray().Select(e => e.GetString() ?? "")];

    /// <summary>A path inside the image, e.g. <c>/opt/dragonfly/dfagent</c>, on this machine.</summary>
    public string PathOf(string pathInImage) => Path.Combine(Rootfs, pathInImage.TrimStart('/'));

    public static async Task<ImageRoot> PullAsync(Skopeo skopeo, string reference, string arch, string dir)
    {
        var pulled = Path.Combine(dir, "pulled");
        var rootfs = Path.Combine(dir, "rootfs");
        Directory.CreateDirectory(rootfs);
        var copy = await skopeo.RunAsync(["copy", "--src-tls-verify=false", "--override-os", "linux", "--override-arch", arch, $"docker://{reference}", $"dir:{pulled}"]);
        Assert.True(copy.ExitCode == 0, $"skopeo could not pull {reference} for {arch}:\n{copy.Output}");

        using var manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(pulled, "manifest.json")));
        var configBlob = Blob(pulled, manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()!);
        using var configDocument = JsonDocument.Parse(await File.ReadAllBytesAsync(configBlob));
        var config = configDocument.RootElement.Clone();
        foreach (var layer in manifest.RootElement.GetProperty("layers").EnumerateArray())
        {
            Assert.Equal("application/vnd.oci.image.layer.v1.tar+gzip", layer.GetProperty("mediaType").GetString());
            // As root, tar keeps the owners the layer names (the image user's data dir among them).
            var untar = await ProcessRunner.RunAsync("tar", ["-xzpf", Blob(pulled, layer.GetProperty("digest").GetString()!), "-C", rootfs, "--numeric-owner"]);
            Assert.True(untar.ExitCode == 0, $"a layer of {reference} ({arch}) does not unpack:\n{untar.Output}");
        }
        TempDirectory.Delete(pulled);
        return new ImageRoot(rootfs, config, config.GetProperty("architecture").GetString() ?? "");
    }

    /// <summary><c>dir:</c> stores each blob under its hex digest.</summary>
    private static string Blob(string dir, string digest) => Path.Combine(dir, digest["sha256:".Length..]);
}
