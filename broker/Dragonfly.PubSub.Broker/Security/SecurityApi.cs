using System.Text.Json;
using Dragonfly.PubSub.Broker.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary><c>POST /api/v1/enroll</c> and <c>POST /api/v1/renew</c> on the broker's HTTPS port (see TLS-DESIGN.md).</summary>
public static class SecurityApi
{
    private const int MaxBodyBytes = 64 * 1024;

    public static IEndpointRouteBuilder MapSecurityApi(this IEndpointRouteBuilder app)
    {
        // The CA certificate, public: an enrolling agent fetches it without trusting anyone yet and keeps it
        // only if it hashes to its token's pin (a .NET server never sends its root CA in the handshake).
        app.MapGet("/api/v1/ca", (HttpContext context) => context.RequestServices.GetService<BrokerTls>() is { } tls
            ? Results.Text(tls.CaCertificatePem, "application/x-pem-file")
            : NotIssuing());

        app.MapPost("/api/v1/enroll", async (HttpContext context, CancellationToken ct) =>
        {
            if (context.RequestServices.GetService<Enrollment>() is not { } enrollment)
            {
                return NotIssuing();
            }
            var (body, error) = await ReadAsync(context, ct).ConfigureAwait(false);
            if (body is null)
            {
                return Error(StatusCodes.Status400BadRequest, error!);
            }
            using (body)
            {
                return Answer(enrollment.Enroll(Field(body, "token"), Field(body, "csr")));
            }
        });

        app.MapPost("/api/v1/renew", async (HttpContext context, CancellationToken ct) =>
        {
            if (context.RequestServices.GetService<Enrollment>() is not { } enrollment)
            {
                return NotIssuing();
            }
            var (body, error) = await ReadAsync(context, ct).ConfigureAwait(false);
            if (body is null)
            {
                return Error(StatusCodes.Status400BadRequest, error!);
            }
            using (body)
            {
                return Answer(enrollment.Renew(context.Connection.ClientCertificate, Field(body, "csr")));
            }
        });
        return app;
    }

    private static IResult Answer(EnrollmentOutcome outcome) => outcome.Response is { } response
        ? Results.Json(response, SecurityJsonContext.Default.EnrollmentResponse)
        : Error(outcome.ErrorKind switch
        {
            EnrollmentErrorKind.BadRequest => StatusCodes.Status400BadRequest,
            EnrollmentErrorKind.Unauthorized => StatusCodes.Status401Unauthorized,
            _ => StatusCodes.Status503ServiceUnavailable,
        }, outcome.Error!);

    private static IResult NotIssuing() =>
        Error(StatusCodes.Status503ServiceUnavailable, "this broker runs without TLS (--insecure) and issues no certificates; start agents with --insecure too");

    private static async Task<(JsonDocument? Body, string? Error)> ReadAsync(HttpContext context, CancellationToken ct)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return (null, $"the body is larger than {MaxBodyBytes} bytes");
        }
        try
        {
            var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: ct).ConfigureAwait(false);
            if (body.RootElement.ValueKind == JsonValueKind.Object)
            {
                return (body, null);
            }
            body.Dispose();
        }
        catch (JsonException)
        {
        }
        return (null, "the body is not a JSON object; send {\"token\": \"dfj1...\", \"csr\": \"<PEM>\"} (renew: {\"csr\": \"<PEM>\"})");
    }

    private static string? Field(JsonDocument body, string name) =>
        body.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static IResult Error(int status, string message) =>
        Results.Json(new ApiError(message), SecurityJsonContext.Default.ApiError, statusCode: status);
}
