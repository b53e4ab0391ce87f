using System.Net.Http.Json;
using System.Text.Json;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// Several dfbrokers of one fleet, as README "Several brokers" sets them up: every one with the same
/// <c>--state</c> (Redis) and <c>--mqtt-url</c> (Mosquitto); in secure mode the first makes the fleet CA and
/// the others are given it (<c>--tls-ca</c>, <c>--tls-ca-key</c>), so that one certificate and one announcement
/// signature are good at all of them. Agents get all of them in <c>--broker A,B,C</c>.
/// </summary>
public static class SeveralBrokers
{
    /// <summary>
    /// Starts <paramref name="count"/> brokers; the first is the cluster's <see cref="TestCluster.Broker"/> (agents enrol there).
    /// <paramref name="extraArgs"/> go to every one (e.g. <c>--no-seed</c>, when a seed agent given all brokers stands in).
    /// </summary>
    public static async Task<IReadOnlyList<BrokerProcess>> StartAsync(TestCluster cluster, int count, string state, string mqttUrl, params string[] extraArgs)
    {
        string[] shared = ["--state", state, "--mqtt-url", mqttUrl, .. extraArgs];
        var first = await cluster.StartBrokerAsync(extraArgs: shared);
        var others = await Task.WhenAll(Enumerable.Range(2, count - 1).Select(async i =>
        {
            List<string> args = [.. shared];
            if (!TlsMode.Insecure)
            {
                args.AddRange(["--tls-ca", Path.Combine(first.DataDir, "tls", "ca.crt"), "--tls-ca-key", Path.Combine(first.DataDir, "tls", "ca.key")]);
            }
            var broker = await BrokerProcess.StartAsync(cluster.Launcher, Path.Combine(cluster.Root, $"broker{i}"), name: $"broker{i}", extraArgs: args);
            broker.Fleet = first.Fleet;
            return broker;
        }));
        return [first, .. others];
    }

    /// <summary><c>--broker 127.0.0.1:G1,127.0.0.1:G2,…</c>.</summary>
    public static string[] AgentArgs(IEnumerable<BrokerProcess> brokers) =>
        ["--broker", string.Join(",", brokers.Select(b => b.Ports.GrpcAddress))];

    /// <summary>The ids of the live brokers <paramref name="broker"/> lists (<c>GET /api/v1/brokers</c>, from the heartbeats in Redis).</summary>
    public static async Task<IReadOnlyList<string>> LiveBrokersAsync(BrokerProcess broker)
    {
        var list = await broker.Http.GetFromJsonAsync<JsonElement>("api/v1/brokers");
        return list.EnumerateArray().Select(b => b.GetProperty("id").GetString()!).ToList();
    }

    /// <summary>Waits until every broker lists <paramref name="count"/> live brokers.</summary>
    public static Task WaitForFleetAsync(IEnumerable<BrokerProcess> brokers, int count, TimeSpan timeout) =>
        Task.WhenAll(brokers.Select(b => Wait.UntilAsync($"{b.Process.Name} to list {count} live brokers", timeout,
            async () => (await LiveBrokersAsync(b)).Count == count)));

    /// <summary>Waits until the agent logged a connection to each of <paramref name="count"/> schedulers.</summary>
    public static Task WaitUntilConnectedToAllAsync(AgentProcess agent, int count, TimeSpan timeout) =>
        Wait.UntilAsync($"{agent.Name} to connect to {count} schedulers", timeout, () => Task.FromResult(
            agent.Process.LinesWhere(l => l.Contains("connected to scheduler ", StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf("connected to scheduler ", StringComparison.Ordinal) + 23)..].Trim())
                .Distinct().Count() >= count));

    /// <summary>The digests <c>GET /api/v1/tasks</c> lists (with shared state: the catalogue in Redis, read afresh).</summary>
    public static async Task<IReadOnlyList<string>> ListedTasksAsync(BrokerProcess broker)
    {
        var tasks = await broker.Http.GetFromJsonAsync<JsonElement>("api/v1/tasks");
        return tasks.EnumerateArray().Select(t => t.GetProperty("digest").GetString()!).ToList();
    }

    /// <summary>The broker whose own swarm holds live task <paramref name="digest"/> (<c>localPeers</c> in <c>GET /api/v1/tasks</c>), or null.</summary>
    public static async Task<BrokerProcess?> OwnerOfAsync(IEnumerable<BrokerProcess> brokers, string digest)
    {
        foreach (var broker in brokers.Where(b => !b.Process.HasExited))
        {
            var tasks = await broker.Http.GetFromJsonAsync<JsonElement>("api/v1/tasks");
            if (tasks.EnumerateArray().Any(t => t.GetProperty("digest").GetString() == digest && t.GetProperty("localPeers").GetInt32() > 0))
            {
                return broker;
            }
        }
        return null;
    }
}
