using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Tasks;

/// <summary>
/// Container image blobs in the swarm: their task id is the blob digest (content-addressed URL
/// tasks), they are kept in the content store only (never under output-dir), and announcements of
/// them carry the label <c>dragonfly.io/kind=image-blob</c> (preheat).
/// </summary>
public static class ImageBlobs
{
    public static bool IsImageBlob(IReadOnlyDictionary<string, string>? labels) => ImageBlobLabels.IsImageBlob(labels);

    /// <summary>The manifest with the image-blob label (a copy when it lacked it).</summary>
    public static Manifest Mark(Manifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (IsImageBlob(manifest.Labels))
        {
            return manifest;
        }
        var marked = manifest.Clone();
        marked.Labels[ImageBlobLabels.Kind] = ImageBlobLabels.ImageBlob;
        return marked;
    }

    /// <summary>The name a blob pulled through the mirror is listed under: its digest's hex (as preheat names them).</summary>
    public static string NameOf(ContentDigest digest) => digest.Hex;
}
