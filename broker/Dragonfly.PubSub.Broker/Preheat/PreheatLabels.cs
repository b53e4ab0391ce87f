namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>The labels of every blob task a preheat registers (and announces).</summary>
public static class PreheatLabels
{
    /// <summary><c>image-blob</c>: a config or layer blob, content-addressed (task id = blob digest).</summary>
    public const string Kind = "dragonfly.io/kind";
    public const string ImageBlob = "image-blob";

    /// <summary>The normalized image reference the job preheats.</summary>
    public const string Image = "dragonfly.io/image";

    /// <summary>The chosen platforms that use the blob, comma-separated (<c>linux/arm64,linux/amd64</c>).</summary>
    public const string Platforms = "dragonfly.io/platforms";

    /// <summary>The blob's media type from the manifest.</summary>
    public const string MediaType = "dragonfly.io/media-type";
}
