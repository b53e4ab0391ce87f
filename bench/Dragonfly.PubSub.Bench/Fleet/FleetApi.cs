using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Fleet;

/// <summary>The broker's read-only API as <c>dfbench fleet</c> uses it: ports, a topic's subscribers, a task's swarm.</summary>
internal sealed class FleetApi : IDisposable
{
    private readonly HttpClient _http;

    public FleetApi(FleetOptions options)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (options.Secure)
        {
            var trusted = new X509Certificate2Collection();
            trusted.ImportFromPemFile(options.CaFile!);
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is not X509Certificate2 leaf)
                    {
                        return false;
                    }
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
                    return chain.Build(leaf);
                },
            };
        }
        _http = new HttpClient(handler) { BaseAddress = options.Broker, Timeout = TimeSpan.FromSeconds(15) };
    }

    /// <summary>GET /api/v1/status: the ports the publishing agent needs.</summary>
    public async Task<BrokerStatus> StatusAsync(CancellationToken cancel)
    {
        var status = await GetAsync("api/v1/status", cancel);
        var tls = status.TryGetProperty("tls", out var t) && t.GetBoolean();
        return new BrokerStatus(status.GetProperty("brokerId").GetString() ?? "", status.GetProperty("grpcPort").GetInt32(),
            tls ? status.GetProperty("mqttsPort").GetInt32() : status.GetProperty("mqttPort").GetInt32(), status.GetProperty("httpPort").GetInt32(), tls);
    }

    /// <summary>
    /// Online agents whose --subscribe filters match <paramref name="topic"/>: GET /api/v1/topics counts them for a topic
    /// announced before; for a new topic, GET /api/v1/agents lists them (its first 500 agents).
    /// </summary>
    public async Task<int> SubscribersAsync(string topic, CancellationToken cancel)
    {
        var topics = await GetAsync("api/v1/topics", cancel);
        foreach (var known in topics.EnumerateArray())
        {
            if (known.GetProperty("topic").GetString() == topic)
            {
                return known.GetProperty("subscribers").GetInt32();
            }
        }
        var agents = await GetAsync("api/v1/agents", cancel);
        return agents.GetProperty("agents").EnumerateArray().Count(a => a.GetProperty("online").GetBoolean()
            && a.GetProperty("subscriptions").EnumerateArray().Any(f => Matches(f.GetString() ?? "", topic)));
    }

    /// <summary>GET /api/v1/tasks/{digest}/swarm, or null while the broker does not know the task yet.</summary>
    public async Task<JsonElement?> SwarmAsync(string digest, CancellationToken cancel)
    {
        using var response = await _http.GetAsync($"api/v1/tasks/{digest}/swarm", cancel);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
        await ThrowUnlessOk(response, cancel);
        return await response.Content.ReadFromJsonAsync<JsonElement>(cancel);
    }

    /// <summary>MQTT topic filter matching (<c>+</c> one level, <c>#</c> the rest, including none).</summary>
    public static bool Matches(string filter, string topic)
    {
        var f = filter.Split('/');
        var t = topic.Split('/');
        for (var i = 0; i < f.Length; i++)
        {
            if (f[i] == "#")
            {
                return true;
            }
            if (i >= t.Length || (f[i] != "+" && f[i] != t[i]))
            {
                return false;
            }
        }
        return f.Length == t.Length;
    }

    private async Task<JsonElement> GetAsync(string path, CancellationToken cancel)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(path, cancel);
        }
        catch (HttpRequestException e)
        {
            throw new UserFacingException($"cannot reach the broker's API at {_http.BaseAddress}: {e.Message}; check --broker (and --ca for https)", ExitCodes.Failed, e);
        }
        using (response)
        {
            await ThrowUnlessOk(response, cancel);
            return await response.Content.ReadFromJsonAsync<JsonElement>(cancel);
        }
    }

    private async Task ThrowUnlessOk(HttpResponseMessage response, CancellationToken cancel)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancel);
            throw new UserFacingException($"the broker at {_http.BaseAddress} answered {(int)response.StatusCode} to {response.RequestMessage?.RequestUri?.PathAndQuery}: {body.Trim()}", ExitCodes.Failed);
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>What GET /api/v1/status says about the broker's ports; <paramref name="MqttPort"/> is MQTT over TLS when <paramref name="Tls"/>.</summary>
internal sealed record BrokerStatus(string BrokerId, int GrpcPort, int MqttPort, int HttpPort, bool Tls);
