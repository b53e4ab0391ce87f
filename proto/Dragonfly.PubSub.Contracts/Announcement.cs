using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// The JSON object published (QoS 1, retained) on <c>dragonfly/announce/&lt;topic&gt;</c>. A content
/// task's announcement carries its signed manifest (<see cref="Manifest"/>) when that is small, so a
/// subscriber starts without asking the scheduler for it; otherwise piece digests are fetched with <c>GetManifest</c>.
/// </summary>
/// <remarks>
/// An image announcement (label <c>dragonfly.io/kind=image</c>, see <see cref="ImageBlobLabels.IsImage"/>)
/// is not a task: <see cref="Digest"/> is the preheated image's root manifest (index) digest,
/// <see cref="Size"/> the sum of its blobs' sizes, no pieces (<see cref="PieceSize"/> and
/// <see cref="PieceCount"/> 0), and <see cref="Blobs"/> the blobs it stands for, each a task of its own.
/// MQTT retains one message per topic, so this one list is what an agent subscribing later still gets.
/// </remarks>
public sealed record Announcement
{
    public const int CurrentVersion = 1;

    /// <summary>At most this many <see cref="Blobs"/>: far above any real image, and a bound on the message size.</summary>
    public const int MaxBlobs = 1000;

    /// <summary>
    /// A broker inlines a manifest of at most this many protobuf bytes by default: 64 KiB holds ~1,900 piece
    /// digests (a 1.9 GiB file of 1 MiB pieces), and stays far below the packet limits of common MQTT brokers.
    /// </summary>
    public const int DefaultInlineManifestMax = 64 * 1024;

    /// <summary>An announcement whose <see cref="Manifest"/> decodes to more than this is refused (bounds an agent's work).</summary>
    public const int MaxInlineManifest = 1024 * 1024;

    public int Version { get; init; } = CurrentVersion;
    public required string Digest { get; init; }
    public required string Name { get; init; }
    public long Size { get; init; }
    public int PieceSize { get; init; }
    public int PieceCount { get; init; }
    public required string Topic { get; init; }
    public string Publisher { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public Dictionary<string, string> Labels { get; init; } = [];

    // Signed announcements (issue 11): the broker's order and signature.

    /// <summary>
    /// The broker's sequence number for this topic and name: it grows with every announcement of the
    /// pair and survives broker restarts. Agents order versions of one output path by it, never by
    /// <see cref="CreatedAt"/>. 0 in announcements of brokers before it existed.
    /// </summary>
    public long Sequence { get; init; }

    /// <summary>
    /// The certificate (base64 DER) whose key made <see cref="Signature"/>: issued by the fleet CA with the
    /// broker role, which is what an agent checks before it believes the signature. Omitted when unsigned (--insecure).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Signer { get; init; }

    /// <summary>
    /// ECDSA P-256/SHA-256 signature (base64, IEEE P1363) over <see cref="AnnouncementSigning.BytesToSign"/>.
    /// Omitted when unsigned (--insecure).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Signature { get; init; }

    /// <summary>
    /// A URL task (back-to-source): <see cref="Digest"/> is the task id, not the content's hash; the piece
    /// digests arrive from the scheduler as the source fetches them. Omitted from the JSON when false.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool UrlTask { get; init; }

    /// <summary>The sha256:&lt;hex&gt; of the whole file of a URL task, when known. Omitted from the JSON when unknown.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ContentDigest { get; init; }

    /// <summary>
    /// The task's manifest (base64 of the gRPC <c>Manifest</c> message, with the broker's own signature in
    /// secure mode), carried so that a subscriber can start without a <c>GetManifest</c> round trip; only on
    /// content tasks, and only up to the broker's limit (<see cref="DefaultInlineManifestMax"/>). It is not part
    /// of <see cref="AnnouncementSigning.BytesToSign"/>: its own signature covers it, and agents that do not
    /// read it check the announcement as before. Omitted from the JSON when absent.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Manifest { get; init; }

    /// <summary>
    /// An image announcement's blobs: the content digests (<c>sha256:&lt;hex&gt;</c>) of the config and
    /// layer blobs of the image. Empty for every other announcement.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<string> Blobs { get; init; } = [];

    // "blobs" in the JSON, omitted when empty (so ordinary announcements keep their shape).
    [JsonInclude]
    [JsonPropertyName("blobs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    internal IReadOnlyList<string>? BlobsJson
    {
        get => Blobs.Count == 0 ? null : Blobs;
        init => Blobs = value ?? [];
    }

    public byte[] ToJsonUtf8() => JsonSerializer.SerializeToUtf8Bytes(this, ContractsJsonContext.Default.Announcement);

    /// <summary>Parses and validates; on failure returns null and says why in <paramref name="error"/>.</summary>
    public static Announcement? TryParse(ReadOnlySpan<byte> utf8, out string? error)
    {
        Announcement? announcement;
        try
        {
            announcement = JsonSerializer.Deserialize(utf8, ContractsJsonContext.Default.Announcement);
        }
        catch (JsonException e)
        {
            error = $"not a valid announcement JSON object: {e.Message}";
            return null;
        }
        error = announcement?.Validate() ?? (announcement is null ? "the announcement is JSON null" : null);
        return error is null ? announcement : null;
    }

    /// <summary>Null when consistent; otherwise the first problem found.</summary>
    public string? Validate()
    {
        if (Version != CurrentVersion)
        {
            return $"announcement version {Version} is not supported (this agent reads version {CurrentVersion})";
        }
        if (Sequence < 0)
        {
            return $"sequence {Sequence} is negative";
        }
        // JSON null where a string or an object belongs: refused here, not a crash later (in AnnouncementSigning).
        if (Publisher is null || Labels is null || Labels.Values.Any(v => v is null))
        {
            return "publisher, labels and label values must not be null";
        }
        if (!Contracts.ContentDigest.TryParse(Digest, out _))
        {
            return $"digest '{Digest}' is not a sha256: content id";
        }
        if (ImageBlobLabels.IsImage(Labels))
        {
            return ValidateImage();
        }
        if (Blobs.Count > 0)
        {
            return $"blobs are listed only by an image announcement (label {ImageBlobLabels.Kind}={ImageBlobLabels.ImageAnnouncement})";
        }
        if (Manifest is not null && (UrlTask || Manifest.Length > (MaxInlineManifest + 2) / 3 * 4))
        {
            return UrlTask
                ? "a URL task's announcement carries no manifest (its piece digests arrive as its source fetches them)"
                : $"the inline manifest is longer than {MaxInlineManifest} bytes";
        }
        if (ContentDigest is not null && !Contracts.ContentDigest.TryParse(ContentDigest, out _))
        {
            return $"contentDigest '{ContentDigest}' is not a sha256: content id";
        }
        if (ArtifactName.Validate(Name) is { } nameError)
        {
            return nameError;
        }
        if (TopicName.ValidateTopic(Topic) is { } topicError)
        {
            return topicError;
        }
        if (!new PieceLayout(Size, PieceSize).IsSupported)
        {
            return $"size {Size} or piece size {PieceSize} is out of range";
        }
        if (new PieceLayout(Size, PieceSize).PieceCount != PieceCount)
        {
            return $"piece count {PieceCount} does not match size {Size} and piece size {PieceSize}";
        }
        return null;
    }

    /// <summary>An image announcement: no task of its own, so no pieces; its blobs are what it is about.</summary>
    private string? ValidateImage()
    {
        if (ArtifactName.Validate(Name) is { } nameError)
        {
            return nameError;
        }
        if (TopicName.ValidateTopic(Topic) is { } topicError)
        {
            return topicError;
        }
        if (UrlTask || ContentDigest is not null || Manifest is not null)
        {
            return "an image announcement is not a task: it has no urlTask, contentDigest or manifest";
        }
        if (Size < 0 || PieceSize != 0 || PieceCount != 0)
        {
            return $"an image announcement has a size of 0 or more and no pieces (pieceSize and pieceCount 0), not size {Size}, piece size {PieceSize}, {PieceCount} pieces";
        }
        if (Blobs.Count == 0)
        {
            return "an image announcement lists no blobs";
        }
        if (Blobs.Count > MaxBlobs)
        {
            return $"an image announcement lists {Blobs.Count} blobs; at most {MaxBlobs} are allowed";
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var blob in Blobs)
        {
            if (!Contracts.ContentDigest.TryParse(blob, out _))
            {
                return $"blob '{blob}' is not a sha256: content id";
            }
            if (!seen.Add(blob))
            {
                return $"blob {blob} is listed twice";
            }
        }
        return null;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Announcement))]
internal sealed partial class ContractsJsonContext : JsonSerializerContext;
