using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// One line of the registry's access log: what really reached it. <see cref="Bytes"/> is the
/// response body the registry wrote (0 for HEAD and for most errors).
/// </summary>
public sealed record RegistryRequest(string Method, string Path, int Status, long Bytes)
{
    /// <summary>The digest of a <c>/v2/&lt;repo&gt;/blobs/&lt;digest&gt;</c> request, else null.</summary>
    public ContentDigest? BlobDigest
    {
        get
        {
            var at = Path.LastIndexOf("/blobs/", StringComparison.Ordinal);
            return at >= 0 && ContentDigest.TryParse(Path[(at + "/blobs/".Length)..], out var digest) ? digest : null;
        }
    }

    /// <summary>True for <c>/v2/&lt;repo&gt;/manifests/&lt;reference&gt;</c>.</summary>
    public bool IsManifest => Path.Contains("/manifests/", StringComparison.Ordinal);
}
