using System.Text.Json;
using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Agent.Cache;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Prometheus;
using System.Threading.Channels;

namespace Dragonfly.PubSub.Agent.Api;

/// <summary>
/// The agent's local HTTP API, served on the HTTP port and on &lt;data-dir&gt;/dfagent.sock. The JSON
/// shapes are the SDK's (<see cref="ClientJsonContext"/>), so the two cannot drift apart.
/// </summary>
public static class LocalApi
{
    public static void MapLocalApi(this WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapMetrics("/metrics");

        var api = app.MapGroup("/api/v1");
        api.MapGet("/status", (AgentOptions options, AgentRuntime runtime, SchedulerSession scheduler, AnnouncementSubscriber mqtt) =>
            Results.Json(new AgentStatus
            {
                PeerId = runtime.PeerId,
                Broker = scheduler.BrokerAddress,
                BrokerConnected = scheduler.Connected,
                MqttConnected = mqtt.Connected,
                PeerPort = runtime.PeerPort,
                HttpPort = runtime.HttpPort,
                ProxyPort = runtime.ProxyPort,
                RegistryMirror = options.RegistryMirror?.ToString(),
                Subscriptions = options.Subscriptions,
                OutputDir = options.OutputDir,
                Seed = options.Seed,
            }, ClientJsonContext.Default.AgentStatus));

        api.MapGet("/tasks", (TaskManager tasks) => Results.Json(tasks.GetTasks().ToList(), ClientJsonContext.Default.ListTaskInfo));

        api.MapGet("/tasks/{digest}", (string digest, TaskManager tasks) =>
            !ContentDigest.TryParse(digest, out var parsed)
                ? Error($"'{digest}' is not a content id", ApiError.Usage, StatusCodes.Status400BadRequest)
                : tasks.GetTask(parsed.Value) is { } info
                    ? Results.Json(info, ClientJsonContext.Default.TaskInfo)
                    : Error($"no task {digest} on this agent", ApiError.NotFound, StatusCodes.Status404NotFound));

        api.MapPost("/publish", async (HttpContext http, TaskManager tasks) =>
        {
            var request = await ReadAsync(http, ClientJsonContext.Default.PublishRequest);
            if (request is null)
            {
                return Error("the body is not a publish request", ApiError.Usage, StatusCodes.Status400BadRequest);
            }
            try
            {
                return Results.Json(await tasks.PublishAsync(request, http.RequestAborted), ClientJsonContext.Default.PublishResult);
            }
            catch (UserFacingException e)
            {
                return FromException(e);
            }
        }).AddEndpointFilter(SocketOnly);

        api.MapPost("/download", async (HttpContext http, TaskManager tasks) =>
        {
            var request = await ReadAsync(http, ClientJsonContext.Default.DownloadRequest);
            if (request is null || string.IsNullOrEmpty(request.Output) || !Path.IsPathFullyQualified(request.Output)
                || (request.Url is null && !ContentDigest.TryParse(request.Digest, out _)) || request.Limit is <= 0)
            {
                return Error("the body must be {\"digest\": \"sha256:<hex>\", \"output\": \"/absolute/path\"} or {\"url\": \"...\", \"output\": \"/absolute/path\"}, with a positive limit if any", ApiError.Usage, StatusCodes.Status400BadRequest);
            }
            ContentDigest digest;
            DownloadWaiter waiter;
            try
            {
                if (request.Url is not null)
                {
                    (digest, waiter) = await tasks.DownloadUrlAsync(request, http.RequestAborted);
                }
                else
                {
                    digest = ContentDigest.Parse(request.Digest!);
                    waiter = await tasks.DownloadAsync(digest, request.Output, request.Limit ?? 0, http.RequestAborted);
                }
            }
            catch (UserFacingException e)
            {
                return FromException(e);
            }
            catch (UnknownTaskException e)
            {
                return Error(e.Message, ApiError.NotFound, StatusCodes.Status404NotFound);
            }
            catch (InvalidDataException e)
            {
                return Error(e.Message, ApiError.Failed, StatusCodes.Status502BadGateway);
            }
            try
            {
                await StreamAsync(http, waiter.Updates.Reader);
            }
            finally
            {
                tasks.CancelWaiter(digest, waiter);
            }
            return Results.Empty;
        }).AddEndpointFilter(SocketOnly);

        api.MapPost("/gc", async (HttpContext http, CacheCollector cache, bool? dryRun, long? cacheSize) =>
            cacheSize is < 0
                ? Error("cacheSize must be 0 or more bytes", ApiError.Usage, StatusCodes.Status400BadRequest)
                : Results.Json(await cache.CollectAsync(dryRun ?? false, cacheSize, http.RequestAborted), ClientJsonContext.Default.CacheReport))
            .AddEndpointFilter(SocketOnly);

        api.MapGet("/events", async (HttpContext http, TaskManager tasks, string? digest) =>
        {
            ContentDigest? filter = null;
            if (digest is not null)
            {
                if (!ContentDigest.TryParse(digest, out filter))
                {
                    return Error($"'{digest}' is not a content id", ApiError.Usage, StatusCodes.Status400BadRequest);
                }
            }
            var updates = Channel.CreateBounded<TaskInfo>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
            void OnChanged(TaskInfo info)
            {
                if (filter is null || info.Digest == filter.Value.ToString())
                {
                    updates.Writer.TryWrite(info);
                }
            }
            tasks.TaskChanged += OnChanged;
            try
            {
                foreach (var info in tasks.GetTasks().Where(t => filter is null || t.Digest == filter.Value.ToString()))
                {
                    updates.Writer.TryWrite(info);
                }
                await StreamAsync(http, updates.Reader);
            }
            finally
            {
                tasks.TaskChanged -= OnChanged;
            }
            return Results.Empty;
        }).AddEndpointFilter(SocketOnly);
    }

    /// <summary>
    /// Publishing reads any file the agent can read and downloading writes wherever it can write:
    /// only local users (the unix socket, guarded by file permissions) may ask for that, never the
    /// network on the HTTP port.
    /// </summary>
    private static ValueTask<object?> SocketOnly(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.Connection.LocalIpAddress is null
            ? next(context)
            : ValueTask.FromResult<object?>(Error("this endpoint is served only on the agent's unix socket (<data-dir>/dfagent.sock); use dfpub/dfget or the SDK on the agent's machine", ApiError.Usage, StatusCodes.Status403Forbidden));

    /// <summary>Writes each snapshot as one JSON line until the reader completes or the client leaves.</summary>
    private static async Task StreamAsync(HttpContext http, ChannelReader<TaskInfo> reader)
    {
        http.Response.ContentType = "application/x-ndjson";
        await http.Response.StartAsync(http.RequestAborted);
        // Headers out now: the client knows it is attached before the first change arrives.
        await http.Response.Body.FlushAsync(http.RequestAborted);
        try
        {
            await foreach (var info in reader.ReadAllAsync(http.RequestAborted))
            {
                await JsonSerializer.SerializeAsync(http.Response.Body, info, ClientJsonContext.Default.TaskInfo, http.RequestAborted);
                await http.Response.Body.WriteAsync("\n"u8.ToArray(), http.RequestAborted);
                await http.Response.Body.FlushAsync(http.RequestAborted);
            }
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; the task goes on.
        }
    }

    private static async Task<T?> ReadAsync<T>(HttpContext http, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) where T : class
    {
        try
        {
            return await http.Request.ReadFromJsonAsync(typeInfo, http.RequestAborted);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static IResult FromException(UserFacingException e) =>
        e.ExitCode == ExitCodes.Usage
            ? Error(e.Message, ApiError.Usage, StatusCodes.Status400BadRequest)
            : Error(e.Message, ApiError.Failed, StatusCodes.Status502BadGateway);

    private static IResult Error(string message, string kind, int status) =>
        Results.Json(new ApiError(message, kind), ClientJsonContext.Default.ApiError, statusCode: status);
}
