using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// Why a task failed, as data rather than words: the origin's answer travels from a URL task's
/// source through the scheduler to every agent of the task, and each edge maps it to what its
/// caller speaks (the registry mirror to a distribution API code, the local API to
/// <c>errorKind</c> in the task JSON). The error line says the same for people.
/// </summary>
public enum TaskErrorKind
{
    /// <summary>None of the kinds below, or a peer too old to say.</summary>
    Other = 0,

    /// <summary>The origin has no such object (HTTP 404/410, FTP 550, S3 NoSuchKey).</summary>
    NotFound,

    /// <summary>The origin refused the credentials, or there were none (HTTP 401/403, FTP 530, S3 AccessDenied).</summary>
    AccessDenied,

    /// <summary>The origin refused the request for another reason asking again will not change (other 4xx, TLS, a bad URL).</summary>
    Rejected,

    /// <summary>The content does not hash to the digest it was requested or announced by.</summary>
    DigestMismatch,

    /// <summary>The origin's content changed while it was being fetched (size or a piece's digest).</summary>
    SourceChanged,

    /// <summary>The origin could not be reached, or failed, after every retry.</summary>
    Unavailable,
}

/// <summary>The names and wire forms of <see cref="TaskErrorKind"/>.</summary>
public static class TaskErrorKinds
{
    /// <summary>
    /// The gRPC trailer in which the broker names the kind when it refuses a URL task (its status code
    /// alone lumps e.g. "access denied" with other preconditions): the value is <see cref="Name"/>.
    /// </summary>
    public const string TrailerKey = "dragonfly-error-kind";

    /// <summary>The kind as the task JSON and the trailer spell it: <c>not-found</c>, <c>access-denied</c>, ...</summary>
    public static string Name(TaskErrorKind kind) => kind switch
    {
        TaskErrorKind.NotFound => "not-found",
        TaskErrorKind.AccessDenied => "access-denied",
        TaskErrorKind.Rejected => "rejected",
        TaskErrorKind.DigestMismatch => "digest-mismatch",
        TaskErrorKind.SourceChanged => "source-changed",
        TaskErrorKind.Unavailable => "unavailable",
        _ => "other",
    };

    /// <summary>The kind <see cref="Name"/> spells; <see cref="TaskErrorKind.Other"/> for anything else (a newer peer's kind).</summary>
    public static TaskErrorKind Parse(string? name) =>
        Enum.GetValues<TaskErrorKind>().FirstOrDefault(k => Name(k) == name, TaskErrorKind.Other);

    public static SourceErrorKind ToWire(this TaskErrorKind kind) => kind switch
    {
        TaskErrorKind.NotFound => SourceErrorKind.NotFound,
        TaskErrorKind.AccessDenied => SourceErrorKind.AccessDenied,
        TaskErrorKind.Rejected => SourceErrorKind.Rejected,
        TaskErrorKind.DigestMismatch => SourceErrorKind.DigestMismatch,
        TaskErrorKind.SourceChanged => SourceErrorKind.SourceChanged,
        TaskErrorKind.Unavailable => SourceErrorKind.Unavailable,
        _ => SourceErrorKind.Unspecified,
    };

    public static TaskErrorKind FromWire(SourceErrorKind kind) => kind switch
    {
        SourceErrorKind.NotFound => TaskErrorKind.NotFound,
        SourceErrorKind.AccessDenied => TaskErrorKind.AccessDenied,
        SourceErrorKind.Rejected => TaskErrorKind.Rejected,
        SourceErrorKind.DigestMismatch => TaskErrorKind.DigestMismatch,
        SourceErrorKind.SourceChanged => TaskErrorKind.SourceChanged,
        SourceErrorKind.Unavailable => TaskErrorKind.Unavailable,
        _ => TaskErrorKind.Other,
    };
}
