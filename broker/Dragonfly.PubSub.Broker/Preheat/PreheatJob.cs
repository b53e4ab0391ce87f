using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>
/// A preheat job as <c>GET /api/v1/preheat/{id}</c> shows it and the catalogue stores it (never any
/// credential). <paramref name="Image"/> is the normalized reference; <paramref name="Digest"/> the
/// manifest (index) it resolved to; <paramref name="Platforms"/> as requested (<c>["all"]</c> or os/arch...).
/// </summary>
public sealed record PreheatJob(
    string Id,
    string Image,
    string Digest,
    IReadOnlyList<string> Platforms,
    string Topic,
    string State,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error,
    DateTimeOffset CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? FinishedAt,
    IReadOnlyList<PreheatManifest> Manifests,
    IReadOnlyList<PreheatBlob> Blobs);
