using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// The JSON object published (QoS 1, retained) on <c>dragonfly/announce/&lt;topic&gt;</c>. Small on
/// purpose: piece digests are fetched from the scheduler with <c>GetManifest</c>.
/// </summary>
public sealed record Announcement
{
    public const int CurrentVersion = 1;

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

    /// <summary>
    /// A URL task (back-to-source): <see cref="Digest"/> is the task id, not the content's hash; the piece
    /// digests arrive from the scheduler as the source fetches them. Omitted from the JSON when false.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool UrlTask { get; init; }

    /// <summary>The sha256:&lt;hex&gt; of the whole file of a URL task, when known. Omitted from the JSON when unknown.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ContentDigest { get; init; }

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
        if (!Contracts.ContentDigest.TryParse(Digest, out _))
        {
            return $"digest '{Digest}' is not a sha256: content id";
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
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Announcement))]
internal sealed partial class ContractsJsonContext : JsonSerializerContext;
