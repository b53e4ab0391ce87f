using System.Net;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Hosting;
using Dragonfly.PubSub.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Who may use the broker's HTTP API (issue 11), decided per request from <see cref="ApiAccessRules"/>:
/// reads from loopback are free; from other hosts they need an API token of scope read (or a fleet
/// certificate of role admin or publisher, which dfpub preheat presents to follow its job); preheat
/// needs a token of scope preheat or a certificate the preheat endpoint's own gate accepts. Tokens are
/// <c>Authorization: Bearer dfa1.…</c> from <c>dfbroker token create --scope …</c>. The admin socket is
/// not subject to it (its file mode makes local root the admin), nor is anything with <c>--insecure</c>,
/// where there are no identities (README, Security model). The scheduler's port answers gRPC only.
/// </summary>
public sealed class ApiAccessPolicy(BrokerTls? tls, BoundPorts ports, SecurityStore store, TimeProvider time, ILogger<ApiAccessPolicy> logger)
{
    private const string BearerPrefix = "Bearer ";
    private const string PreheatPath = "/api/v1/preheat";

    /// <summary>Null when the request may go on (a valid token's bearer then attached: <see cref="ApiCaller.Of"/>); otherwise why not.</summary>
    public ApiRefusal? Refusal(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var connection = context.Connection;
        if (connection.LocalIpAddress is null || tls is null)
        {
            return null;
        }
        var request = context.Request;
        if (connection.LocalPort == ports.Grpc && ports.Grpc != ports.Http)
        {
            // The scheduler's port (client certificate required) serves the scheduler, not the HTTP API.
            return request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true
                ? null
                : new ApiRefusal(StatusCodes.Status404NotFound, $"port {ports.Grpc} is the scheduler's (gRPC); the HTTP API is on port {ports.Http}");
        }
        var path = request.Path.Value ?? "/";
        var access = ApiAccessRules.For(request.Method, path);
        if (access == ApiAccess.Public)
        {
            return null;
        }
        var what = $"{request.Method} {path}";
        ApiCaller? caller = null;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            if (!ApiToken.TryParse(authorization[BearerPrefix.Length..], out var token))
            {
                return Unauthorized($"{what}: the bearer token is not an API token of this broker (dfa1.<id>.<secret>); make one on the broker's host with: dfbroker token create --scope read");
            }
            var (found, refusal) = store.CheckApiToken(token, time.GetUtcNow());
            if (found is null)
            {
                return Unauthorized($"{what}: {refusal}");
            }
            caller = found;
            caller.AttachTo(context);
        }
        var fromLoopback = connection.RemoteIpAddress is { } remote && IPAddress.IsLoopback(remote);
        return access switch
        {
            ApiAccess.Read => ReadRefusal(context, caller, fromLoopback, what, path),
            // Without a token the preheat endpoint's client-certificate gate decides (role and topics), as before.
            ApiAccess.Preheat => caller is null || caller.Has(ApiScope.Preheat) ? null
                : Denied($"{what}: API token {caller.TokenId} has scope {ApiScopes.Names(caller.Scopes)}, not preheat; make one with: dfbroker token create --scope preheat"),
            _ => fromLoopback ? null
                : Denied($"{what}: no endpoint of the broker's HTTP API accepts this request from another host"),
        };
    }

    private ApiRefusal? ReadRefusal(HttpContext context, ApiCaller? caller, bool fromLoopback, string what, string path)
    {
        if (caller is not null)
        {
            var preheatRead = caller.Has(ApiScope.Preheat) && (path.Equals(PreheatPath, StringComparison.OrdinalIgnoreCase)
                || path.StartsWith(PreheatPath + "/", StringComparison.OrdinalIgnoreCase));
            return caller.Has(ApiScope.Read) || preheatRead ? null
                : Denied($"{what}: API token {caller.TokenId} has scope {ApiScopes.Names(caller.Scopes)}, not read; make one with: dfbroker token create --scope read");
        }
        if (fromLoopback)
        {
            return null;
        }
        if (context.Connection.ClientCertificate is { } certificate && tls!.Check(certificate) is { Ok: true, Peer: { } peer }
            && (peer.Has(PeerRole.Admin) || peer.Has(PeerRole.Publisher)))
        {
            return null;
        }
        return Unauthorized($"{what} from another host needs an API token of scope read (Authorization: Bearer dfa1.…); make one on the broker's host with: dfbroker token create --scope read");
    }

    private ApiRefusal Unauthorized(string reason)
    {
        BrokerLog.ApiRequestRefused(logger, reason);
        SecurityMetrics.Refused.WithLabels("http").Inc();
        return new ApiRefusal(StatusCodes.Status401Unauthorized, reason);
    }

    private ApiRefusal Denied(string reason)
    {
        BrokerLog.ApiRequestRefused(logger, reason);
        SecurityMetrics.Denied.WithLabels("http").Inc();
        return new ApiRefusal(StatusCodes.Status403Forbidden, reason);
    }
}
