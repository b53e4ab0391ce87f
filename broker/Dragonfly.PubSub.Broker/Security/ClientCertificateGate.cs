using Dragonfly.PubSub.Broker.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Guards the HTTP endpoints that change state (POST /api/v1/preheat): in secure mode the caller must
/// present a valid, unrevoked fleet certificate (the HTTPS port asks for one but does not require it,
/// so that enrolment, the dashboard and metrics stay reachable with only the CA) or an API token of
/// scope preheat (<see cref="ApiAccessPolicy"/>).
/// </summary>
public sealed class ClientCertificateGate(BrokerTls? tls, ILogger<ClientCertificateGate> logger)
{
    /// <summary>Null when the request may proceed; otherwise why not (one line).</summary>
    public string? Refusal(HttpContext context)
    {
        if (tls is null || ApiCaller.Of(context) is not null)
        {
            return null; // --insecure, or the bearer of an API token (ApiAccessPolicy checked it and its scope)
        }
        if (context.Connection.ClientCertificate is not { } certificate)
        {
            return Refuse("this endpoint needs a client certificate of the fleet; call it with e.g. curl --cacert ca.crt --cert agent.crt --key agent.key");
        }
        // Checked again: the peer may have been revoked after this connection's handshake.
        var check = tls.Check(certificate);
        return check.Ok ? null : Refuse(check.Failure!);
    }

    /// <summary>
    /// Null when the caller (already past <see cref="Refusal"/>) may preheat onto <paramref name="topic"/>:
    /// always with --insecure; in secure mode the admin or publisher role and a topic its certificate grants.
    /// A preheat makes the broker's seed fetch an image and announces it to every subscriber, so it is a publish.
    /// </summary>
    public string? PreheatRefusal(HttpContext context, string topic)
    {
        if (tls is null)
        {
            return null;
        }
        if (ApiCaller.Of(context) is { } caller)
        {
            // An API token of scope preheat (ApiAccessPolicy checked both); its topics as a certificate's.
            return caller.Has(ApiScope.Preheat) && TopicGrants.Allow(caller.Topics, topic) ? null
                : Denied($"API token {caller.TokenId} may not preheat onto topic '{topic}'; it grants only {string.Join(", ", caller.Topics)}");
        }
        if (context.Connection.ClientCertificate is not { } certificate || tls.Check(certificate).Peer is not { } peer)
        {
            return Refuse("this endpoint needs a client certificate of the fleet");
        }
        if (!peer.Has(Dragonfly.PubSub.Security.PeerRole.Admin) && !peer.Has(Dragonfly.PubSub.Security.PeerRole.Publisher))
        {
            return Denied($"peer {peer.PeerId} (role {peer.RoleNames}) may not preheat; use a certificate of role admin or publisher");
        }
        return TopicGrants.Allow(peer.Topics, topic)
            ? null
            : Denied($"peer {peer.PeerId} may not preheat onto topic '{topic}'; its certificate grants only {string.Join(", ", peer.Topics)}");
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

    private string Denied(string reason)
    {
        BrokerLog.ClientCertificateRefused(logger, reason);
        SecurityMetrics.Denied.WithLabels("http").Inc();
        return reason;
    }

    private string Refuse(string reason)
    {
        BrokerLog.ClientCertificateRefused(logger, reason);
        return reason;
    }
}
