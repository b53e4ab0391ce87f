using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>How a download ended; <paramref name="Error"/> is one line a user can read when it failed.</summary>
/// <param name="Content">
/// The SHA-256 of the whole file when it succeeded: the content id of a content task, the hash a
/// URL task's file turned out to have. Null when it failed.
/// </param>
public sealed record DownloadOutcome(bool Succeeded, string? Error, ContentDigest? Content = null)
{
    /// <summary>
    /// Failed because the disk was full (ENOSPC, EDQUOT): the verified pieces are kept, and the same
    /// task can resume once there is space again.
    /// </summary>
    public bool DiskFull { get; init; }

    /// <summary>Why it failed, as data (<see cref="TaskErrorKind.Other"/> when it succeeded or no kind applies).</summary>
    public TaskErrorKind ErrorKind { get; init; }

    public static DownloadOutcome Success(ContentDigest content) => new(true, null, content);

    public static DownloadOutcome Failure(string error) => new(false, error);
}
