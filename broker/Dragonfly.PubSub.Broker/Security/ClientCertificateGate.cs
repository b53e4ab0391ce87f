using Dragonfly.PubSub.Broker.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Guards the HTTP endpoints that change state (POST /api/v1/preheat): in secure mode the caller must
/// present a valid, unrevoked fleet certificate (the HTTPS port asks for one but does not require it,
/// so that enrolment, the dashboard and metrics stay reachable with only the CA).
/// </summary>
public sealed class ClientCertificateGate(BrokerTls? tls, ILogger<ClientCertificateGate> logger)
{
    /// <summary>Null when the request may proceed; otherwise why not (one line).</summary>
    public string? Refusal(HttpContext context)
    {
        if (tls is null)
        {
            return null;
        }
        if (context.Connection.ClientCertificate is not { } certificate)
        {
            return Refuse("this endpoint needs a client certificate of the fleet; call it with e.g. curl --cacert ca.crt --cert agent.crt --key agent.key");
        }
        // Checked again: the peer may have been revoked after this connection's handshake.
        var check = tls.Check(certificate);
        return check.Ok ? null : Refuse(check.Failure!);
    }

    /// <summary>An endpoint filter answering 401 with one line when <see cref="Refusal"/> says no.</summary>
    public static async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var gate = context.HttpContext.RequestServices.GetService(typeof(ClientCertificateGate)) as ClientCertificateGate;
        if (gate?.Refusal(context.HttpContext) is { } refusal)
        {
            return Results.Json(new Http.ApiError(refusal), SecurityJsonContext.Default.ApiError, statusCode: StatusCodes.Status401Unauthorized);
        }
        return await next(context).ConfigureAwait(false);
    }

    private string Refuse(string reason)
    {
        BrokerLog.ClientCertificateRefused(logger, reason);
        return reason;
    }
}
