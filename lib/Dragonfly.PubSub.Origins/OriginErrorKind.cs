using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Origins;

/// <summary>Why an origin request failed; decides whether a retry may help.</summary>
public enum OriginErrorKind
{
    /// <summary>The object does not exist (HTTP 404/410, FTP 550, S3 NoSuchKey).</summary>
    NotFound,

    /// <summary>Credentials missing or refused (HTTP 401/403, FTP 530, S3 AccessDenied).</summary>
    AccessDenied,

    /// <summary>The origin refused the request for another reason a retry will not change (other 4xx).</summary>
    Rejected,

    /// <summary>The requested offset lies beyond the end of the object.</summary>
    RangeNotSatisfiable,

    /// <summary>The origin's TLS certificate is not trusted or does not match the host.</summary>
    Tls,

    /// <summary>The origin answered something this client cannot use (bad Content-Range, malformed reply).</summary>
    Protocol,

    /// <summary>The URL is malformed or its scheme has no registered origin.</summary>
    InvalidUrl,

    /// <summary>
    /// The origin's address is internal (loopback, link-local, private, ...) and this process's
    /// <see cref="EgressPolicy"/> does not allow it; no connection was opened.
    /// </summary>
    EgressRefused,

    /// <summary>Transient: 5xx, 429, connection refused or reset, the origin closed mid-transfer.</summary>
    Unavailable,

    /// <summary>Transient: no answer or no bytes within the configured timeout.</summary>
    Timeout,
}

/// <summary>What an origin's failure means for the task that needed it.</summary>
public static class OriginErrorKinds
{
    public static TaskErrorKind ToTaskErrorKind(this OriginErrorKind kind) => kind switch
    {
        OriginErrorKind.NotFound => TaskErrorKind.NotFound,
        OriginErrorKind.AccessDenied => TaskErrorKind.AccessDenied,
        OriginErrorKind.Unavailable or OriginErrorKind.Timeout => TaskErrorKind.Unavailable,
        // Rejected, RangeNotSatisfiable, Tls, Protocol, InvalidUrl, EgressRefused: asking again will not help.
        _ => TaskErrorKind.Rejected,
    };
}
