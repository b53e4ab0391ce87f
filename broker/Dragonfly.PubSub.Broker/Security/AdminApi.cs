using System.Text.Json;
using Dragonfly.PubSub.Broker.Http;
using Dragonfly.PubSub.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The admin API behind <c>dfbroker token|cert</c> while the broker runs. It answers only on the unix
/// socket &lt;data-dir&gt;/dfbroker.sock (mode 0600, so local root or the broker's user is the admin);
/// on the network listeners these paths are 404.
/// </summary>
public static class AdminApi
{
    public const string TokensPath = "/admin/v1/tokens";

    public static string RevokeTokenPath(string id) => $"{TokensPath}/{Uri.EscapeDataString(id)}/revoke";

    public static string RevokePeerPath(string peerId) => $"/admin/v1/peers/{Uri.EscapeDataString(peerId)}/revoke";

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(TokensPath, async (HttpContext context, CancellationToken ct) =>
        {
            if (Admin(context, out var refusal) is not { } admin)
            {
                return refusal;
            }
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: ct).ConfigureAwait(false);
            var root = body.RootElement;
            // An API token has scopes and no role; a join token a role and no scopes.
            var scopeNames = root.TryGetProperty("scopes", out var scopeValue) ? scopeValue.GetString() : null;
            IReadOnlyList<ApiScope> scopes = [];
            if (!string.IsNullOrEmpty(scopeNames) && !ApiScopes.TryParseList(scopeNames, out scopes))
            {
                return Error("unknown scope");
            }
            IReadOnlyList<PeerRole> roles = [];
            if (scopes.Count == 0 && !PeerRoles.TryParseList(root.GetProperty("role").GetString(), out roles))
            {
                return Error("unknown role");
            }
            var request = new TokenRequest(
                roles,
                [.. root.GetProperty("topics").EnumerateArray().Select(t => t.GetString() ?? "")],
                TimeSpan.FromSeconds(root.GetProperty("ttlSeconds").GetDouble()),
                root.GetProperty("uses").GetInt32()) { Scopes = scopes };
            if (request.Validate() is { } problem)
            {
                return Error(problem);
            }
            return Results.Json(admin.CreateToken(request), SecurityJsonContext.Default.TokenCreated);
        });

        app.MapPost($"{TokensPath}/{{id}}/revoke", (string id, HttpContext context) =>
            Admin(context, out var refusal) is { } admin ? Results.Json(admin.RevokeToken(id), SecurityJsonContext.Default.RevokeResult) : refusal);

        app.MapPost("/admin/v1/peers/{peerId}/revoke", (string peerId, HttpContext context) =>
            Admin(context, out var refusal) is { } admin ? Results.Json(admin.RevokePeer(peerId), SecurityJsonContext.Default.RevokeResult) : refusal);
        return app;
    }

    /// <summary>The admin, for a request that came over the unix socket (no IP address); null (and the answer) otherwise.</summary>
    private static SecurityAdmin? Admin(HttpContext context, out IResult refusal)
    {
        refusal = Results.NotFound();
        if (context.Connection.LocalIpAddress is not null)
        {
            return null;
        }
        if (context.RequestServices.GetService<SecurityAdmin>() is { } admin)
        {
            return admin;
        }
        refusal = Results.Json(new ApiError("the broker runs with --insecure: it has no CA, join tokens or certificates to manage"),
            SecurityJsonContext.Default.ApiError, statusCode: StatusCodes.Status409Conflict);
        return null;
    }

    private static IResult Error(string message) =>
        Results.Json(new ApiError(message), SecurityJsonContext.Default.ApiError, statusCode: StatusCodes.Status400BadRequest);
}
