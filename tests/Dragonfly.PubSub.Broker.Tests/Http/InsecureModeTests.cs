using System.Net.Http.Json;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Tests.Support;

namespace Dragonfly.PubSub.Broker.Tests.Http;

/// <summary>--insecure: plain listeners as before issue 9, and it says so everywhere.</summary>
public sealed class InsecureModeTests : IAsyncLifetime
{
    private InProcessBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await InProcessBroker.StartAsync("insecure", seed: false);

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Insecure_IsVisibleInHealthDashboardStatusAndReadyFile()
    {
        var health = await _broker.Http.GetFromJsonAsync<JsonElement>("healthz");
        Assert.Equal(("ok", false), (health.GetProperty("status").GetString(), health.GetProperty("tls").GetBoolean()));
        Assert.Contains("running WITHOUT TLS (--insecure)", await _broker.Http.GetStringAsync("/"));
        var status = await _broker.Http.GetFromJsonAsync<JsonElement>("api/v1/status");
        Assert.False(status.GetProperty("tls").GetBoolean());
        Assert.Equal((false, 0), (_broker.ReadyInfo.GetProperty("tls").GetBoolean(), _broker.ReadyInfo.GetProperty("mqttsPort").GetInt32()));
        Assert.NotEqual(0, _broker.ReadyInfo.GetProperty("mqttPort").GetInt32());
    }

    [Fact]
    public async Task TokenCreate_AgainstAnInsecureBroker_SaysThereAreNoTokens()
    {
        var result = await BrokerCommand.RunAsync("token", "create", "--role", "agent", "--data-dir", _broker.DataDir);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("dfbroker: the broker runs with --insecure: it has no CA, join tokens or certificates to manage\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }
}
