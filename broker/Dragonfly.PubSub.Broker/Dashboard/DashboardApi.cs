using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Http;
using Dragonfly.PubSub.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// The dashboard's read-only API (README "Dashboard"): one compact view for the page, polled or pushed
/// as server-sent events, and its parts for scripts. Every answer comes from <see cref="DashboardCache"/>:
/// readers never make the broker build more than once a second.
/// </summary>
internal static class DashboardApi
{
    /// <summary>How often an event stream sends the view.</summary>
    public static readonly TimeSpan StreamInterval = TimeSpan.FromSeconds(2);

    /// <summary>Event streams open at once at most; more are told to poll instead.</summary>
    public const int MaxStreams = 64;

    private static int _streams;

    public static IEndpointRouteBuilder MapDashboardApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/dashboard", async (HttpContext context, string? task, CancellationToken ct) =>
        {
            if (BadTask(task) is { } bad)
            {
                return bad;
            }
            return Json(context, await Answer(context, task, ct).ConfigureAwait(false));
        });

        app.MapGet("/api/v1/dashboard/events", async (HttpContext context, string? task, CancellationToken ct) =>
        {
            if (BadTask(task) is { } bad)
            {
                await bad.ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            if (Interlocked.Increment(ref _streams) > MaxStreams)
            {
                Interlocked.Decrement(ref _streams);
                await Error(StatusCodes.Status503ServiceUnavailable,
                    $"{MaxStreams} dashboard event streams are open already; poll GET /api/v1/dashboard instead").ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            try
            {
                await StreamAsync(context, task, ct).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _streams);
            }
        });

        app.MapGet("/api/v1/agents", async (HttpContext context, CancellationToken ct) =>
            Part((await View(context, null, ct).ConfigureAwait(false)).View!.Fleet, DashboardJsonContext.Default.FleetView));
        app.MapGet("/api/v1/topics", async (HttpContext context, CancellationToken ct) =>
            Part((await View(context, null, ct).ConfigureAwait(false)).View!.Topics.ToList(), DashboardJsonContext.Default.ListTopicView));
        app.MapGet("/api/v1/traffic", async (HttpContext context, CancellationToken ct) =>
            Part((await View(context, null, ct).ConfigureAwait(false)).View!.Traffic, DashboardJsonContext.Default.TrafficView));
        app.MapGet("/api/v1/failures", async (HttpContext context, CancellationToken ct) =>
            Part((await View(context, null, ct).ConfigureAwait(false)).View!.Failures, DashboardJsonContext.Default.FailuresView));

        app.MapGet("/api/v1/tasks/{digest}/swarm", async (string digest, HttpContext context, CancellationToken ct) =>
        {
            if (BadTask(digest) is { } bad)
            {
                return bad;
            }
            var services = context.RequestServices;
            var builder = services.GetRequiredService<DashboardBuilder>();
            var answer = await services.GetRequiredService<DashboardCache>().GetAsync("swarm:" + digest, async token =>
            {
                var swarm = await builder.BuildSwarmAsync(digest, token).ConfigureAwait(false);
                return new CachedAnswer(swarm, swarm is null ? [] : JsonSerializer.SerializeToUtf8Bytes(swarm, DashboardJsonContext.Default.SwarmView));
            }, ct).ConfigureAwait(false);
            return answer.View is null
                ? Error(StatusCodes.Status404NotFound, $"no task {digest} is known to this broker; publish it first")
                : Json(context, answer);
        });
        return app;
    }

    /// <summary>The view for <paramref name="task"/> (null: the default selection), from the cache.</summary>
    private static async Task<(DashboardView? View, byte[] Json)> View(HttpContext context, string? task, CancellationToken ct)
    {
        var answer = await Answer(context, task, ct).ConfigureAwait(false);
        return ((DashboardView?)answer.View, answer.Json);
    }

    private static Task<CachedAnswer> Answer(HttpContext context, string? task, CancellationToken ct)
    {
        var services = context.RequestServices;
        var builder = services.GetRequiredService<DashboardBuilder>();
        return services.GetRequiredService<DashboardCache>().GetAsync("view:" + (task ?? ""), async token =>
        {
            var shares = services.GetRequiredService<IFleetShares>();
            var view = FleetMerge.Merge(await builder.BuildAsync(task, token).ConfigureAwait(false), await shares.OthersAsync(token).ConfigureAwait(false));
            return new CachedAnswer(view, JsonSerializer.SerializeToUtf8Bytes(view, DashboardJsonContext.Default.DashboardView));
        }, ct);
    }

    /// <summary>Server-sent events: the view every <see cref="StreamInterval"/> until the page goes or the broker stops.</summary>
    private static async Task StreamAsync(HttpContext context, string? task, CancellationToken requestAborted)
    {
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var end = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, stopping);
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // a proxy in front must not hold the events back
        var prefix = Encoding.UTF8.GetBytes("event: dashboard\ndata: ");
        var suffix = Encoding.UTF8.GetBytes("\n\n");
        try
        {
            while (!end.IsCancellationRequested)
            {
                var (_, json) = await View(context, task, end.Token).ConfigureAwait(false);
                await response.Body.WriteAsync(prefix, end.Token).ConfigureAwait(false);
                await response.Body.WriteAsync(json, end.Token).ConfigureAwait(false);
                await response.Body.WriteAsync(suffix, end.Token).ConfigureAwait(false);
                await response.Body.FlushAsync(end.Token).ConfigureAwait(false);
                await Task.Delay(StreamInterval, end.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (end.IsCancellationRequested)
        {
            // The page went away, or the broker stops.
        }
    }

    private static IResult? BadTask(string? task) =>
        task is null || ContentDigest.TryParse(task, out _)
            ? null
            : Error(StatusCodes.Status400BadRequest, $"'{task}' is not a task id; expected sha256: followed by 64 lowercase hex digits");

    /// <summary>The cached JSON, gzipped when the client takes it (browsers do).</summary>
    private static IResult Json(HttpContext context, CachedAnswer answer)
    {
        if (!context.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
        {
            return Results.Bytes(answer.Json, "application/json; charset=utf-8");
        }
        context.Response.Headers.ContentEncoding = "gzip";
        context.Response.Headers.Vary = "Accept-Encoding";
        return Results.Bytes(answer.Gzip, "application/json; charset=utf-8");
    }

    private static IResult Part<T>(T part, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) => Results.Json(part, type);

    private static IResult Error(int status, string message) =>
        Results.Json(new ApiError(message), BrokerJsonContext.Default.ApiError, statusCode: status);
}
