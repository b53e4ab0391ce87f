using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Client;

/// <summary>
/// One task as the agent reports it (the JSON of <c>GET /api/v1/tasks</c>).
/// <see cref="State"/> is one of <c>pending</c>, <c>running</c>, <c>succeeded</c>, <c>failed</c>.
/// </summary>
public sealed record TaskInfo
{
    public required string Digest { get; init; }
    public string Name { get; init; } = "";
    public string Topic { get; init; } = "";
    public string State { get; init; } = TaskStates.Pending;
    public long Size { get; init; }
    public int CompletedPieces { get; init; }
    public int TotalPieces { get; init; }
    public long BytesFromPeers { get; init; }
    public long BytesFromSource { get; init; }
    /// <summary>Where the artifact lands (subscription output or the dfget target), if any.</summary>
    public string? Path { get; init; }
    public string? Error { get; init; }

    /// <summary>
    /// Why a failed task failed, as data for scripts: <c>not-found</c>, <c>access-denied</c>, <c>rejected</c>,
    /// <c>digest-mismatch</c>, <c>source-changed</c>, <c>unavailable</c> or <c>other</c>; null unless <see cref="State"/> is failed.
    /// </summary>
    public string? ErrorKind { get; init; }

    /// <summary>
    /// The sha256:&lt;hex&gt; of the content when it differs from <see cref="Digest"/> and is known: a URL
    /// task's <see cref="Digest"/> is its task id, and its content digest is learned once fetched.
    /// </summary>
    public string? ContentDigest { get; init; }

    /// <summary>When this agent received the announcement or the download request (RFC 3339 UTC, milliseconds).</summary>
    public string? AnnouncedAt { get; init; }

    /// <summary>When this agent's first piece request of the task went out (RFC 3339 UTC, milliseconds); null before.</summary>
    public string? FirstPieceRequestedAt { get; init; }

    [JsonIgnore]
    public bool IsFinished => State is TaskStates.Succeeded or TaskStates.Failed;

    /// <summary>0..1, by pieces.</summary>
    [JsonIgnore]
    public double Fraction => TotalPieces == 0 ? (State == TaskStates.Succeeded ? 1 : 0) : (double)CompletedPieces / TotalPieces;
}
