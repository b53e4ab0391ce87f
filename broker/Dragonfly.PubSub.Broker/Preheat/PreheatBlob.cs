using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>
/// One config or layer blob of a job (each digest once) and the chosen platforms that use it. Its
/// <paramref name="State"/> follows the URL task with the blob digest as id: running once registered,
/// succeeded when the source reported it fetched and verified, failed with the task's error.
/// </summary>
public sealed record PreheatBlob(
    string Digest,
    long Size,
    string MediaType,
    IReadOnlyList<string> Platforms,
    string State,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null);
