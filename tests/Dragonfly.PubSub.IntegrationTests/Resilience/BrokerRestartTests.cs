using System.Net;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>The broker holds only metadata, durably: killing it mid-transfer costs nobody their download.</summary>
public sealed class BrokerRestartTests(ITestOutputHelper output)
{
    private const string Topic = "releases/app";

    [Fact]
    public Task Broker_KilledMidTransfer_AgentsFinishAndManifestSurvivesRestart() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var agents = await cluster.StartAgentsAsync("sub", 3, [Topic], ["--download-limit", "20MiB"]);
        var file = await cluster.CreateFileAsync("restart-128m.bin", 128 * MiB, seed: 31);
        await cluster.PublishAsync(publisher, file, Topic);

        var progress = await Wait.ForAsync("the agents to be a quarter through", TestCluster.TransferTimeout, async () =>
        {
            var tasks = await Task.WhenAll(agents.Select(a => a.GetTaskAsync(file.Digest)));
            return tasks.Any(t => t is not null && t.CompletedPieces * 4 >= t.TotalPieces) ? tasks : null;
        }, guard: cluster.Launcher.ThrowIfAnyCrashed);
        await cluster.Broker.Process.KillAsync();
        cluster.Log($"broker killed at: {string.Join(" | ", progress.Select(t => t?.ToString() ?? "no task"))}");
        Assert.True(progress.Any(t => t is null || t.State != "succeeded"),
            "every agent had finished before the broker was killed; is --download-limit 20MiB honoured?");

        var broker = await cluster.RestartBrokerAsync();
        await cluster.WaitForFileOnAllAsync(agents, Topic, file);

        using var response = await broker.Http.GetAsync($"api/v1/tasks/{file.Digest}");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /api/v1/tasks/{file.Digest} after the restart: {(int)response.StatusCode} {body}");
        using var task = JsonDocument.Parse(body);
        Assert.Equal(file.Digest, task.RootElement.GetProperty("digest").GetString());
        Assert.Equal(file.Size, task.RootElement.GetProperty("size").GetInt64());
        var manifest = await broker.GetManifestAsync(file.Digest);
        Assert.Equal(file.Size, manifest.Size);
        Assert.Equal((int)((file.Size + manifest.PieceSize - 1) / manifest.PieceSize), manifest.PieceDigests.Count);
    });
}
