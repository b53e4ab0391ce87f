namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// The labels of container image blob tasks (preheat announcements, mirror pulls). Agents keep a
/// task labelled <c>dragonfly.io/kind=image-blob</c> in their content store only, never under output-dir.
/// A preheat job that succeeded also announces the whole image (<c>dragonfly.io/kind=image</c>): one
/// announcement listing every blob, see <see cref="Announcement.Blobs"/>.
/// </summary>
public static class ImageBlobLabels
{
    /// <summary><c>image-blob</c>: a config or layer blob, content-addressed (task id = blob digest).</summary>
    public const string Kind = "dragonfly.io/kind";
    public const string ImageBlob = "image-blob";

    /// <summary><c>image</c>: an image announcement, not a task (<see cref="Announcement.Blobs"/> lists its blobs).</summary>
    public const string ImageAnnouncement = "image";

    /// <summary>The normalized image reference the job preheats.</summary>
    public const string Image = "dragonfly.io/image";

    /// <summary>The chosen platforms that use the blob (of an image announcement: the chosen platforms), comma-separated (<c>linux/arm64,linux/amd64</c>).</summary>
    public const string Platforms = "dragonfly.io/platforms";

    /// <summary>The blob's media type from the manifest.</summary>
    public const string MediaType = "dragonfly.io/media-type";

    /// <summary>Whether the labels mark an image blob task.</summary>
    public static bool IsImageBlob(IReadOnlyDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(Kind, out var kind) && kind == ImageBlob;

    /// <summary>Whether the labels mark an image announcement (a list of blobs, not a task).</summary>
    public static bool IsImage(IReadOnlyDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(Kind, out var kind) && kind == ImageAnnouncement;
}
