using System.Net.Http.Json;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>
/// Any broker of a fleet shows the whole fleet (issue 12): two dfbrokers on one Redis, an agent given only the
/// second broker, a published task living on one of them. Each broker's <c>/api/v1/agents</c>, <c>/api/v1/tasks</c>
/// and <c>/api/v1/dashboard</c> list every agent and the task's members, not just its own.
/// </summary>
public sealed class WholeFleetApiTests(ITestOutputHelper output)
{
    private const string Topic = "releases/fleet";

    [Fact]
    public Task TwoBrokers_EachApiListsEveryAgentAndEveryTasksMembers() => TestCluster.RunAsync(output, async cluster =>
    {
        var redis = cluster.Own(await RedisServer.StartAsync());
        var mosquitto = cluster.Own(await MosquittoServer.StartAsync());
        var brokers = await SeveralBrokers.StartAsync(cluster, 2, redis.Url, mosquitto.Url);
        await SeveralBrokers.WaitForFleetAsync(brokers, 2, TimeSpan.FromSeconds(20));
        var both = SeveralBrokers.AgentArgs(brokers);
        var publisher = await cluster.StartAgentAsync("pub", extraArgs: both);
        var subscriber = await cluster.StartAgentAsync("sub", [Topic], both);
        // Known to the second broker only: the first learns of it through the second's share in Redis.
        var lone = await cluster.StartAgentAsync("lone", extraArgs: SeveralBrokers.AgentArgs(brokers.Skip(1)));
        var file = await cluster.CreateFileAsync("fleet.bin", 4 * MiB + 1, seed: 521);
        await cluster.PublishAsync(publisher, file, Topic);
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic, file.Name), file, TestCluster.TransferTimeout);
        var owner = await Wait.ForAsync($"a broker to hold {file.Digest}", TimeSpan.FromSeconds(30), () => SeveralBrokers.OwnerOfAsync(brokers, file.Digest));
        var other = brokers.Single(b => b != owner);
        cluster.Log($"{file.Digest} lives on {owner.Process.Name}");

        string[] agents = [publisher.Info.PeerId, subscriber.Info.PeerId, lone.Info.PeerId];
        foreach (var broker in brokers)
        {
            await Wait.UntilAsync($"{broker.Process.Name}'s /api/v1/agents to list all three agents online", TimeSpan.FromSeconds(30), async () =>
            {
                var fleet = await broker.Http.GetFromJsonAsync<JsonElement>("api/v1/agents");
                var online = fleet.GetProperty("agents").EnumerateArray().Where(a => a.GetProperty("online").GetBoolean())
                    .Select(a => a.GetProperty("peerId").GetString()).ToList();
                return agents.All(online.Contains);
            });
            await Wait.UntilAsync($"{broker.Process.Name}'s /api/v1/tasks and dashboard to count the task's two members", TimeSpan.FromSeconds(30), async () =>
            {
                // Not listed yet (the owner's share reaches the other broker within 3 s) is "not yet", not a failure.
                var tasks = (await broker.Http.GetFromJsonAsync<JsonElement>("api/v1/tasks")).EnumerateArray()
                    .Where(t => t.GetProperty("digest").GetString() == file.Digest).ToList();
                var dashboard = (await broker.Http.GetFromJsonAsync<JsonElement>("api/v1/dashboard")).GetProperty("tasks").EnumerateArray()
                    .Where(t => t.GetProperty("digest").GetString() == file.Digest).ToList();
                return tasks.Count == 1 && dashboard.Count == 1
                    && tasks[0].GetProperty("peers").GetInt32() >= 2 && dashboard[0].GetProperty("members").GetInt32() >= 2;
            });
        }
        // The other broker counts them from the owner's share, not from a swarm of its own.
        var seenByOther = (await other.Http.GetFromJsonAsync<JsonElement>("api/v1/tasks")).EnumerateArray()
            .Single(t => t.GetProperty("digest").GetString() == file.Digest);
        Assert.Equal(0, seenByOther.GetProperty("localPeers").GetInt32());
        var first = await brokers[0].Http.GetFromJsonAsync<JsonElement>("api/v1/agents");
        Assert.Contains(first.GetProperty("agents").EnumerateArray(), a => a.GetProperty("peerId").GetString() == lone.Info.PeerId);
    }, TimeSpan.FromMinutes(3));
}
