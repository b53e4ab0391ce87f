using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>Maps <see cref="RegistryMirror"/> onto a route builder (dfagent's --proxy-port app, a test's app).</summary>
public static class RegistryMirrorEndpoints
{
    private static readonly string[] Methods = [HttpMethods.Get, HttpMethods.Head];

    /// <summary>Maps GET and HEAD on <c>/v2</c>, <c>/v2/</c> and everything under it.</summary>
    public static IEndpointConventionBuilder MapRegistryMirror(this IEndpointRouteBuilder endpoints, RegistryMirror mirror)
    {
        var group = endpoints.MapGroup("");
        group.MapMethods("/v2", Methods, mirror.HandleAsync);
        group.MapMethods("/v2/{**path}", Methods, mirror.HandleAsync);
        return group;
    }
}
