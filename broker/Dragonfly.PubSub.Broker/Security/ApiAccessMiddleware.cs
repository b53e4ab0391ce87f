using Dragonfly.PubSub.Broker.Http;
using Microsoft.AspNetCore.Http;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>Applies <see cref="ApiAccessPolicy"/> before any endpoint runs: a refusal is answered with its status and one JSON line.</summary>
public sealed class ApiAccessMiddleware(RequestDelegate next, ApiAccessPolicy policy)
{
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (policy.Refusal(context) is not { } refusal)
        {
            await next(context).ConfigureAwait(false);
            return;
        }
        var response = context.Response;
        response.StatusCode = refusal.Status;
        if (refusal.Status == StatusCodes.Status401Unauthorized)
        {
            response.Headers.WWWAuthenticate = "Bearer realm=\"dfbroker\"";
        }
        await response.WriteAsJsonAsync(new ApiError(refusal.Message), SecurityJsonContext.Default.ApiError, cancellationToken: context.RequestAborted).ConfigureAwait(false);
    }
}
