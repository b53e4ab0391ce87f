namespace Dragonfly.PubSub.Broker.Security;

/// <summary>Why an enrolment or renewal was refused; mapped to an HTTP status only in <see cref="SecurityApi"/>.</summary>
public enum EnrollmentErrorKind
{
    None,

    /// <summary>Malformed body or CSR (400).</summary>
    BadRequest,

    /// <summary>Bad, expired, used or revoked token; missing, foreign or revoked client certificate (401).</summary>
    Unauthorized,

    /// <summary>This broker holds no CA key, or runs without TLS (503).</summary>
    NotIssuing,
}
