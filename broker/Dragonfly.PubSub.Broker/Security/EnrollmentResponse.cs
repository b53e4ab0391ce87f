namespace Dragonfly.PubSub.Broker.Security;

/// <summary>The body of a successful <c>POST /api/v1/enroll</c> or <c>/api/v1/renew</c> (see TLS-DESIGN.md).</summary>
public sealed record EnrollmentResponse(
    string PeerId, string Role, IReadOnlyList<string> Topics, string Certificate, string CaCertificate, DateTimeOffset NotAfter);
