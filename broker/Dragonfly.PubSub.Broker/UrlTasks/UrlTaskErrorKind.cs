namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>Why a URL task could not be registered; the gRPC adapter maps each to one status code.</summary>
public enum UrlTaskErrorKind
{
    /// <summary>The request is wrong: URL, scheme, header, digest, name, topic or piece size.</summary>
    InvalidArgument,

    /// <summary>The origin has no such object.</summary>
    NotFound,

    /// <summary>The origin refuses (401/403, other 4xx, TLS), does not tell the size, or the task conflicts (piece size, size, digest).</summary>
    FailedPrecondition,

    /// <summary>The origin could not be reached after retries, or the broker is stopping.</summary>
    Unavailable,
}
