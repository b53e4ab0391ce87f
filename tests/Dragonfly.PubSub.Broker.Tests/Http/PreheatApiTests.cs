using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;

namespace Dragonfly.PubSub.Broker.Tests.Http;

/// <summary>The preheat endpoints of a real in-process broker (loopback, free ports, no seed); no registry is running.</summary>
public sealed class PreheatApiTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-api-").FullName;
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private Task<int>? _broker;

    public async Task InitializeAsync()
    {
        var options = new BrokerOptions
        {
            DataDir = _dir,
            Listen = IPAddress.Loopback,
            MqttPort = 0,
            GrpcPort = 0,
            HttpPort = 0,
            Seed = false,
        };
        _broker = Task.Run(() => BrokerHost.RunAsync(options, _stop.Token));
        var ready = Path.Combine(_dir, BrokerHost.ReadyFileName);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!File.Exists(ready))
        {
            if (_broker.IsCompleted || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the broker did not start: {(_broker.IsFaulted ? _broker.Exception : "timeout")}");
            }
            await Task.Delay(20);
        }
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(ready));
        _http.BaseAddress = new Uri($"http://127.0.0.1:{json.RootElement.GetProperty("httpPort").GetInt32()}/");
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_broker is not null)
        {
            await _broker.WaitAsync(TimeSpan.FromSeconds(20));
        }
        _http.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Preheat_Endpoints_AnswerJsonWithClearErrors()
    {
        var malformed = await PostAsync("""{"image": "127.0.0.1:1/repo:tag", "topic": "images/repo"}""");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.StartsWith("platforms is required", await ErrorAsync(malformed));

        var notJson = await PostAsync("image=x");
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.StartsWith("the body is not JSON", await ErrorAsync(notJson));

        // Nothing listens on port 1: the registry cannot be reached, and no job is made.
        var unreachable = await PostAsync("""{"image": "127.0.0.1:1/repo:tag", "platforms": ["linux/arm64"], "topic": "images/repo"}""");
        Assert.Equal(HttpStatusCode.BadGateway, unreachable.StatusCode);
        Assert.Contains("127.0.0.1:1", await ErrorAsync(unreachable));

        Assert.Equal("[]", await _http.GetStringAsync("api/v1/preheat"));
        var unknown = await _http.GetAsync("api/v1/preheat/0123456789abcdef");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("no preheat job '0123456789abcdef'", await ErrorAsync(unknown));
        Assert.Contains("Preheat jobs", await _http.GetStringAsync("/"));
        Assert.Contains("dragonfly_broker_preheat_jobs_total{state=\"failed\"}", await _http.GetStringAsync("metrics"));
    }

    private Task<HttpResponseMessage> PostAsync(string body) =>
        _http.PostAsync("api/v1/preheat", new StringContent(body, Encoding.UTF8, "application/json"));

    private static async Task<string> ErrorAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
}
