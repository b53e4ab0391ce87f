using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Registry.Setup;

/// <summary>
/// <c>dfagent init containerd</c>: writes <c>&lt;root&gt;/etc/containerd/certs.d/&lt;registry&gt;/hosts.toml</c>
/// so that containerd pulls and resolves <c>registry</c> through the mirror first, the registry
/// itself staying the fallback. containerd appends <c>?ns=&lt;registry&gt;</c> to requests to a
/// mirror host, which is how one mirror serves every registry. containerd reads these files when
/// its CRI config has <c>config_path = "/etc/containerd/certs.d"</c>.
/// </summary>
public sealed class ContainerdHostsWriter(RegistryClientOptions? registries = null, TimeProvider? time = null)
{
    public static readonly Uri DefaultMirror = new("http://127.0.0.1:4001");

    private readonly RegistryClientOptions _registries = registries ?? new RegistryClientOptions();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public static string PathFor(string root, string registry) =>
        Path.Combine(root, "etc", "containerd", "certs.d", CheckRegistry(registry), "hosts.toml");

    /// <summary>The hosts.toml text for <paramref name="registry"/> (<c>docker.io</c>, <c>host:port</c>).</summary>
    public string Render(string registry, Uri? mirror = null)
    {
        CheckRegistry(registry);
        var mirrorUrl = MirrorUrl(mirror ?? DefaultMirror);
        var server = _registries.EndpointFor(registry).BaseUri.GetLeftPart(UriPartial.Authority);
        return $"""
            # Written by dfagent init containerd: pulls of {registry} go through the Dragonfly mirror
            # (containerd adds ?ns={registry} to the mirror's requests); {server} stays the fallback.
            server = "{server}"

            [host."{mirrorUrl}"]
              capabilities = ["pull", "resolve"]

            """.ReplaceLineEndings("\n");
    }

    /// <summary>Writes (or with <paramref name="dryRun"/> only renders) the file under <paramref name="root"/> (normally <c>/</c>).</summary>
    public SetupResult Write(string registry, string root = "/", Uri? mirror = null, bool dryRun = false) =>
        SetupFiles.Write(PathFor(root, registry), Render(registry, mirror), dryRun, _time);

    internal static string MirrorUrl(Uri mirror)
    {
        if (!mirror.IsAbsoluteUri || (mirror.Scheme != Uri.UriSchemeHttp && mirror.Scheme != Uri.UriSchemeHttps) || mirror.AbsolutePath != "/" || mirror.Query.Length > 0)
        {
            throw new ArgumentException($"the mirror must be an http(s) URL without a path, like {DefaultMirror}, not '{mirror}'", nameof(mirror));
        }
        return mirror.GetLeftPart(UriPartial.Authority);
    }

    private static string CheckRegistry(string registry) =>
        ImageReference.IsValidRegistry(registry) && registry != ".." && registry != "."
            ? registry
            : throw new ArgumentException($"'{registry}' is not a registry host[:port], like docker.io or registry.example.com:5000", nameof(registry));
}
