using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>
/// One task as kept in LiteDB (collection <c>tasks</c>, key = content id). A plain document so the
/// mapper can read and write it; while a <see cref="Pieces.TaskDownloader"/> runs, it is the only
/// writer of the instance it was given (bitmap, byte counters, state).
/// </summary>
public sealed class TaskRecord
{
    /// <summary>The content id, <c>sha256:&lt;hex&gt;</c>.</summary>
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Topic { get; set; } = "";
    public long Size { get; set; }
    public int PieceSize { get; set; }
    public int PieceCount { get; set; }
    public TaskState State { get; set; }

    /// <summary>Pieces persisted as done, in <see cref="Contracts.PieceBitmap"/> wire form.</summary>
    public byte[] Bitmap { get; set; } = [];

    /// <summary>The proto <c>Manifest</c>, serialized.</summary>
    public byte[] ManifestBytes { get; set; } = [];

    public long BytesFromPeers { get; set; }
    public long BytesFromSource { get; set; }
    public string? OutputPath { get; set; }
    public string? Error { get; set; }

    /// <summary>Why it failed, as data (<see cref="TaskErrorKind.Other"/> when it did not, or no kind applies).</summary>
    public TaskErrorKind ErrorKind { get; set; }

    /// <summary>This agent published the artifact (or seeds it): it is a parent of last resort.</summary>
    public bool Publisher { get; set; }

    /// <summary>When this agent received the announcement or download request of the current run (UTC).</summary>
    public DateTime? ReceivedAt { get; set; }

    /// <summary>When the current run's first piece request went out (UTC); null before it did.</summary>
    public DateTime? FirstPieceRequestedAt { get; set; }

    /// <summary>
    /// Published in place (the content store hard-links the publisher's file): the inode and mtime
    /// (ns) that file must keep for its pieces to be served; null when the store owns its copy.
    /// </summary>
    public long? GuardInode { get; set; }

    public long? GuardModifiedNs { get; set; }

    /// <summary>The guard as a stamp, or null.</summary>
    public FileStamp? Guard() => GuardInode is { } inode && GuardModifiedNs is { } modified
        ? new FileStamp(unchecked((ulong)inode), Size, modified)
        : null;

    public void SetGuard(FileStamp? stamp)
    {
        GuardInode = stamp is { } s ? unchecked((long)s.Inode) : null;
        GuardModifiedNs = stamp?.ModifiedNs;
    }

    /// <summary>
    /// When the content was last asked for here (a download request, a placement, the registry
    /// mirror), UTC; null = never since it finished. The cache evicts the least recently used first.
    /// </summary>
    public DateTime? LastUsedAt { get; set; }

    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}
