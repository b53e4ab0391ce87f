using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Tests.Support;

namespace Dragonfly.PubSub.Broker.Tests.Dashboard;

/// <summary>The dashboard's page and read-only API on a real broker host (in this process, --insecure, no seed).</summary>
public sealed class DashboardApiTests : IAsyncLifetime
{
    private static readonly string Unknown = "sha256:" + new string('0', 64);
    private InProcessBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await InProcessBroker.StartAsync("dashboard", seed: false);

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Page_IsSelfContained_AndFollowsTheEventStream()
    {
        var page = await _broker.Http.GetStringAsync("/");

        Assert.Contains("id=\"swarm-members\"", page, StringComparison.Ordinal);
        Assert.Contains("/api/v1/dashboard/events", page, StringComparison.Ordinal);
        // No CDN: nothing is loaded from another host.
        Assert.DoesNotContain("src=\"http", page, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"http", page, StringComparison.Ordinal);
        Assert.DoesNotContain("@import", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dashboard_OnAnIdleBroker_HasEveryPart()
    {
        var view = await _broker.Http.GetFromJsonAsync<JsonElement>("api/v1/dashboard");

        Assert.StartsWith("broker-", view.GetProperty("broker").GetProperty("brokerId").GetString(), StringComparison.Ordinal);
        Assert.False(view.GetProperty("broker").GetProperty("tls").GetBoolean());
        Assert.Equal(0, view.GetProperty("fleet").GetProperty("online").GetInt32());
        Assert.Equal(0, view.GetProperty("tasks").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, view.GetProperty("swarm").ValueKind);
        Assert.Equal(10, view.GetProperty("traffic").GetProperty("stepSeconds").GetInt32());
        Assert.Equal(0, view.GetProperty("traffic").GetProperty("deliveredBytes").GetInt64());
        var kinds = view.GetProperty("failures").GetProperty("byKind").EnumerateObject().Select(k => k.Name).ToList();
        Assert.Equal(["piece_corrupt", "piece_unreachable", "piece_missing", "source_failed", "task_failed", "join_refused", "session_dropped"], kinds);
        foreach (var part in new[] { "agents", "topics", "traffic", "failures" })
        {
            using var response = await _broker.Http.GetAsync($"api/v1/{part}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task Dashboard_ToAClientThatTakesGzip_IsGzipped()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/dashboard");
        request.Headers.AcceptEncoding.ParseAdd("gzip, deflate, br");
        using var response = await _broker.Http.SendAsync(request);

        Assert.Equal(["gzip"], response.Content.Headers.ContentEncoding);
        await using var gzip = new System.IO.Compression.GZipStream(await response.Content.ReadAsStreamAsync(), System.IO.Compression.CompressionMode.Decompress);
        using var json = await JsonDocument.ParseAsync(gzip);
        Assert.True(json.RootElement.TryGetProperty("fleet", out _));
    }

    [Fact]
    public async Task Events_SendTheViewAsServerSentEvents()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/dashboard/events");
        using var response = await _broker.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        Assert.Equal("event: dashboard", await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
        var data = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("data: ", data, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(data!["data: ".Length..]);
        Assert.True(json.RootElement.TryGetProperty("generatedAt", out _));
    }

    [Fact]
    public async Task BadOrUnknownTask_IsOneClearError()
    {
        using var bad = await _broker.Http.GetAsync("api/v1/dashboard?task=nope");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("'nope' is not a task id", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);

        using var unknown = await _broker.Http.GetAsync($"api/v1/tasks/{Unknown}/swarm");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("publish it first", (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
