namespace Dragonfly.PubSub.Broker.Security;

/// <summary>A certificate issued, or the error kind and one line saying why not.</summary>
public sealed record EnrollmentOutcome(EnrollmentResponse? Response, EnrollmentErrorKind ErrorKind, string? Error)
{
    public static EnrollmentOutcome Refused(EnrollmentErrorKind kind, string error) => new(null, kind, error);
}
