using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Client.Preheat;

/// <summary>
/// A preheat job as the broker reports it (<c>GET /api/v1/preheat/{id}</c>): the image resolved to
/// the requested platforms, and the state of each of its blobs (configs and layers).
/// <see cref="State"/> is one of <see cref="PreheatStates"/>.
/// </summary>
public sealed record PreheatJob
{
    public required string Id { get; init; }
    public string Image { get; init; } = "";
    public IReadOnlyList<string> Platforms { get; init; } = [];
    public string Topic { get; init; } = "";
    public string State { get; init; } = PreheatStates.Pending;

    /// <summary>Why the job failed (one line), when it did.</summary>
    public string? Error { get; init; }

    public IReadOnlyList<PreheatBlob> Blobs { get; init; } = [];

    /// <summary>Fields this SDK does not know yet, kept so that they are printed back as received.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }

    [JsonIgnore]
    public bool IsFinished => PreheatStates.IsFinished(State);
}
