using System.Globalization;
using System.Text.Json;

namespace Dragonfly.PubSub.Bench.Swarm.Processes;

/// <summary>
/// Reads when an agent received a task's announcement (or download request) and when it requested the
/// task's first piece: <c>announcedAt</c> and <c>firstPieceRequestedAt</c> (RFC 3339 UTC, ms) in its task
/// JSON (<c>GET /api/v1/tasks</c>). Read as raw JSON, so builds without these fields give null, not an error.
/// </summary>
internal static class TaskTimes
{
    /// <summary>Milliseconds from announcement to first piece request on the agent of <paramref name="dataDir"/>, or null.</summary>
    public static async Task<double?> AnnouncedToFirstRequestAsync(string dataDir, string digest, CancellationToken cancel)
    {
        try
        {
            var json = await AgentSocket.GetStringAsync(Path.Combine(dataDir, "dfagent.sock"), "/api/v1/tasks", cancel);
            return AnnouncedToFirstRequest(json, digest);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or TaskCanceledException)
        {
            return null; // a figure the agent could not give is missing, not a failed run
        }
    }

    /// <summary>From the JSON array of tasks, the task <paramref name="digest"/>'s firstPieceRequestedAt − announcedAt in ms; null if either is absent.</summary>
    internal static double? AnnouncedToFirstRequest(string tasksJson, string digest)
    {
        using var document = JsonDocument.Parse(tasksJson);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        foreach (var task in document.RootElement.EnumerateArray())
        {
            if (task.TryGetProperty("digest", out var d) && d.GetString() == digest)
            {
                return Time(task, "announcedAt") is { } announced && Time(task, "firstPieceRequestedAt") is { } requested
                    ? (requested - announced).TotalMilliseconds
                    : null;
            }
        }
        return null;
    }

    private static DateTimeOffset? Time(JsonElement task, string name) =>
        task.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time
            : null;
}
