using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Dragonfly.PubSub.Broker.Fleet;

/// <summary><c>GET /api/v1/brokers</c>: the live brokers of the fleet (this one alone without shared state).</summary>
public static class FleetApi
{
    public static IEndpointRouteBuilder MapFleetApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/brokers", (IBrokerDirectory brokers) =>
            Results.Json(brokers.Live().ToList(), FleetJsonContext.Default.ListBrokerRecord));
        return app;
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(List<BrokerRecord>))]
internal sealed partial class FleetJsonContext : JsonSerializerContext;
