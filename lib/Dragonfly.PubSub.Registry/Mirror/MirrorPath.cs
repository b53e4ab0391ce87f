using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>
/// A request path of the registry mirror, read without trusting it: the mirror port is where any local
/// process (and through containerd, any image reference) reaches the agent, so <see cref="Parse"/> never
/// throws and bounds its work by the path's length. Repository names, tags and digests are checked by the
/// distribution spec's grammar before anything is fetched or looked up.
/// </summary>
public sealed record MirrorPath(MirrorPathKind Kind, string Name = "", string Reference = "", ContentDigest? Digest = null)
{
    private const string Prefix = "/v2";
    private const string ManifestsMarker = "/manifests/";
    private const string BlobsMarker = "/blobs/";

    /// <summary>The distribution API error code of an <see cref="MirrorPathKind.Invalid"/> path.</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Why the path is <see cref="MirrorPathKind.Invalid"/> or <see cref="MirrorPathKind.Unsupported"/> (one line).</summary>
    public string? Error { get; init; }

    /// <summary>Reads <paramref name="path"/> (the request's path, <c>/v2…</c>).</summary>
    public static MirrorPath Parse(string? path)
    {
        path ??= "";
        var rest = path.Length <= Prefix.Length + 1 ? "" : path[(Prefix.Length + 1)..]; // after "/v2/"
        if (rest.Length == 0)
        {
            return new MirrorPath(MirrorPathKind.Base);
        }
        if (Split(rest, ManifestsMarker) is (string name, string reference))
        {
            if (!ImageReference.IsValidRepository(name))
            {
                return Invalid("NAME_INVALID", $"'{Shown(name)}' is not a valid repository name");
            }
            if (reference.Contains(':'))
            {
                return ContentDigest.TryParse(reference, out var digest)
                    ? new MirrorPath(MirrorPathKind.Manifest, name, reference, digest)
                    : Invalid("DIGEST_INVALID", $"'{Shown(reference)}' is not a sha256 digest (sha256:<64 lowercase hex>)");
            }
            return ImageReference.IsValidTag(reference)
                ? new MirrorPath(MirrorPathKind.Manifest, name, reference)
                : Invalid("TAG_INVALID", $"'{Shown(reference)}' is not a valid tag");
        }
        if (Split(rest, BlobsMarker) is (string blobName, string blobReference))
        {
            if (!ImageReference.IsValidRepository(blobName))
            {
                return Invalid("NAME_INVALID", $"'{Shown(blobName)}' is not a valid repository name");
            }
            return ContentDigest.TryParse(blobReference, out var digest)
                ? new MirrorPath(MirrorPathKind.Blob, blobName, blobReference, digest)
                : Invalid("DIGEST_INVALID", $"'{Shown(blobReference)}' is not a sha256 digest (sha256:<64 lowercase hex>)");
        }
        return new MirrorPath(MirrorPathKind.Unsupported)
        {
            Error = "this mirror serves only pulls: /v2/<name>/manifests/<reference> and /v2/<name>/blobs/<digest>",
        };
    }

    private static MirrorPath Invalid(string code, string error) => new(MirrorPathKind.Invalid) { ErrorCode = code, Error = error };

    /// <summary>Splits <c>name/&lt;marker&gt;/reference</c> at the last marker; the reference has no slash.</summary>
    private static (string Name, string Reference)? Split(string rest, string marker)
    {
        var index = rest.LastIndexOf(marker, StringComparison.Ordinal);
        if (index <= 0)
        {
            return null;
        }
        var reference = rest[(index + marker.Length)..];
        return reference.Length == 0 || reference.Contains('/') ? null : (rest[..index], reference);
    }

    /// <summary>What an error message (and the log) repeats of the client's text: at most 200 characters, control characters as '?'.</summary>
    private static string Shown(string text)
    {
        var shown = text.Length <= 200 ? text : text[..200] + "…";
        return shown.Any(char.IsControl) ? string.Concat(shown.Select(c => char.IsControl(c) ? '?' : c)) : shown;
    }
}
