using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;

using Dragonfly.PubSub.Broker.Tests.Support;

namespace Dragonfly.PubSub.Broker.Tests.Http;

/// <summary>The preheat endpoints of a real in-process broker (loopback, free ports, no seed); no registry is running.</summary>
public sealed class PreheatApiTests : IAsyncLifetime
{
    private InProcessBroker? _broker;

    public async Task InitializeAsync()
    {
        _broker = await InProcessBroker.StartAsync("api", seed: false);
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
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

        Assert.Equal("[]", await _broker!.Http.GetStringAsync("api/v1/preheat"));
        var unknown = await _broker!.Http.GetAsync("api/v1/preheat/0123456789abcdef");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("no preheat job '0123456789abcdef'", await ErrorAsync(unknown));
        Assert.Contains("Preheat jobs", await _broker!.Http.GetStringAsync("/"));
        Assert.Contains("dragonfly_broker_preheat_jobs_total{state=\"failed\"}", await _broker!.Http.GetStringAsync("metrics"));
    }

    private Task<HttpResponseMessage> PostAsync(string body) =>
        _broker!.Http.PostAsync("api/v1/preheat", new StringContent(body, Encoding.UTF8, "application/json"));

    private static async Task<string> ErrorAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
}
