using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Diagnostics;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Hosting;
using Dragonfly.PubSub.Broker.Preheat;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace Dragonfly.PubSub.Broker.Http;

/// <summary>The broker's HTTP surface: health, metrics, the task and preheat APIs and the dashboard.</summary>
public static class BrokerApi
{
    public static IEndpointRouteBuilder MapBrokerApi(this IEndpointRouteBuilder app)
    {
        // JSON: {"status": "ok" | what is down, "tls": bool}; 503 when something is down.
        app.MapGet("/healthz", (BrokerHealth health, BoundPorts ports) => health.Problem() is { } problem
            ? Results.Json(new HealthReport(problem, ports.Tls), BrokerJsonContext.Default.HealthReport, statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Json(new HealthReport("ok", ports.Tls), BrokerJsonContext.Default.HealthReport));

        var coordinator = app.ServiceProvider.GetRequiredService<SwarmCoordinator>();
        BrokerMetrics.CountFrom(coordinator.Counts);
        app.MapMetrics("/metrics");

        app.MapGet("/api/v1/tasks", async (ManifestCatalogue catalogue, SwarmCoordinator coordinator, Broker.Dashboard.IFleetShares shares, CancellationToken ct) =>
        {
            var snapshot = await coordinator.SnapshotAsync(ct).ConfigureAwait(false);
            var stored = catalogue.All();
            // URL tasks whose source has not finished are in the coordinator's memory only.
            var live = (snapshot.UrlTasks ?? []).Where(u => catalogue.Find(u.Digest) is null).OrderByDescending(u => u.CreatedAtUnixMs);
            var tasks = live.Concat(stored).Select(m => Summary(Current(m, snapshot), snapshot.PeersOf(m.Digest))).ToList();
            return Results.Json(FleetTasks.Merge(tasks, await shares.OthersAsync(ct).ConfigureAwait(false)), BrokerJsonContext.Default.ListTaskSummary);
        });

        app.MapGet("/api/v1/tasks/{digest}", async (string digest, ManifestCatalogue catalogue, SwarmCoordinator coordinator, CancellationToken ct) =>
        {
            if (!ContentDigest.TryParse(digest, out _))
            {
                return Results.Json(new ApiError($"'{digest}' is not a content id; expected sha256: followed by 64 lowercase hex digits"),
                    BrokerJsonContext.Default.ApiError, statusCode: StatusCodes.Status400BadRequest);
            }
            var snapshot = await coordinator.SnapshotAsync(ct).ConfigureAwait(false);
            if ((snapshot.UrlTask(digest) ?? catalogue.Find(digest)) is not { } manifest)
            {
                return Results.Json(new ApiError($"no task {digest} is known to this broker; publish it first"),
                    BrokerJsonContext.Default.ApiError, statusCode: StatusCodes.Status404NotFound);
            }
            var peers = snapshot.PeersOf(digest);
            return Results.Json(new TaskDetail(
                manifest.Digest, manifest.Name, manifest.Topic, manifest.Size, manifest.PieceSize, manifest.PieceDigests.Count,
                manifest.Publisher, DateTimeOffset.FromUnixTimeMilliseconds(manifest.CreatedAtUnixMs),
                new Dictionary<string, string>(manifest.Labels), peers, peers.Count(p => p.Seeder),
                manifest.UrlTask, ContentDigestOf(manifest)),
                BrokerJsonContext.Default.TaskDetail);
        });

        app.MapGet("/api/v1/status", async (ManifestCatalogue catalogue, SwarmCoordinator coordinator, BoundPorts ports, CancellationToken ct) =>
        {
            var snapshot = await coordinator.SnapshotAsync(ct).ConfigureAwait(false);
            return Results.Json(new BrokerStatus(coordinator.BrokerId, snapshot.Peers, snapshot.TaskPeers.Count,
                ports.Mqtt, ports.Grpc, ports.Http, ports.Seed, ports.Mqtts, ports.Tls), BrokerJsonContext.Default.BrokerStatus);
        });

        app.MapPost("/api/v1/preheat", async (HttpContext context, PreheatService preheat, ClientCertificateGate gate, CancellationToken ct) =>
        {
            JsonDocument body;
            try
            {
                body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (JsonException)
            {
                return Error(StatusCodes.Status400BadRequest,
                    "the body is not JSON; send {\"image\": \"registry/repo:tag\", \"platforms\": [\"linux/arm64\"], \"topic\": \"...\"}");
            }
            PreheatSubmission submission;
            using (body)
            {
                if (PreheatRequest.Parse(body.RootElement, out var problem) is not { } parsed)
                {
                    return Error(StatusCodes.Status400BadRequest, problem!);
                }
                if (gate.PreheatRefusal(context, parsed.Topic) is { } denied)
                {
                    return Error(StatusCodes.Status403Forbidden, denied);
                }
                submission = await preheat.SubmitAsync(parsed, ct).ConfigureAwait(false);
            }
            if (submission.Job is not { } job)
            {
                return Error(submission.Status, submission.Error!);
            }
            context.Response.Headers.Location = $"/api/v1/preheat/{job.Id}";
            return Results.Json(job, BrokerJsonContext.Default.PreheatJob, statusCode: StatusCodes.Status202Accepted);
        }).AddEndpointFilter(ClientCertificateGate.Filter); // secure mode: a valid fleet client certificate

        app.MapGet("/api/v1/preheat", (PreheatService preheat) =>
            Results.Json(preheat.List().ToList(), BrokerJsonContext.Default.ListPreheatJob));

        app.MapGet("/api/v1/preheat/{id}", (string id, PreheatService preheat) =>
            preheat.Find(id) is { } job
                ? Results.Json(job, BrokerJsonContext.Default.PreheatJob)
                : Error(StatusCodes.Status404NotFound, $"no preheat job '{id}' is known to this broker; list them with GET /api/v1/preheat"));

        app.MapGet("/", (BoundPorts ports) => Results.Content(Dashboard.Page(ports.Tls), "text/html; charset=utf-8"));
        return app;
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new ApiError(message), BrokerJsonContext.Default.ApiError, statusCode: status);

    private static TaskSummary Summary(Manifest manifest, IReadOnlyList<SwarmPeerView> peers) => new(
        manifest.Digest, manifest.Name, manifest.Topic, manifest.Size, manifest.PieceSize, manifest.PieceDigests.Count,
        manifest.Publisher, DateTimeOffset.FromUnixTimeMilliseconds(manifest.CreatedAtUnixMs),
        peers.Count, peers.Count(p => p.Seeder), manifest.UrlTask, ContentDigestOf(manifest), peers.Count);

    /// <summary>A live URL task's manifest is the current one (a stored copy may be from an earlier fetch).</summary>
    private static Manifest Current(Manifest manifest, SwarmSnapshot snapshot) => snapshot.UrlTask(manifest.Digest) ?? manifest;

    private static string? ContentDigestOf(Manifest manifest) =>
        manifest.UrlTask && manifest.ContentDigest.Length > 0 ? manifest.ContentDigest : null;
}
