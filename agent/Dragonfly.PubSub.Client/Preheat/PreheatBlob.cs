using System.Text.Json;
using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Client.Preheat;

/// <summary>One blob of a preheat job: its digest (the swarm's task id), size, media type, the platforms that use it, and its state.</summary>
public sealed record PreheatBlob
{
    public required string Digest { get; init; }
    public long Size { get; init; }
    public string MediaType { get; init; } = "";
    public IReadOnlyList<string> Platforms { get; init; } = [];
    public string State { get; init; } = PreheatStates.Pending;
    public string? Error { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}
