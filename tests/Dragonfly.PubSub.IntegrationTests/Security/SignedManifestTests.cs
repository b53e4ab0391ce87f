using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Google.Protobuf;
using StackExchange.Redis;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, signed manifests, on real processes: a subscription lands pieces by the digests of the manifest
/// a scheduler serves, without hashing the whole file again, so those digests carry the signature of the
/// broker that registered them. Here the shared state (a real Redis, as several brokers use it) is written by
/// someone else after the publish: the manifest another broker then serves is refused by the agent before a
/// piece lands, while an honest file beside it arrives verified.
/// </summary>
public sealed class SignedManifestTests(ITestOutputHelper output)
{
    private const string Topic = "releases/signed";

    [Fact]
    public Task ManifestChangedInTheSharedState_IsRefusedByTheSubscriber_NothingLands_AndAnHonestFileArrives() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: nothing is signed, there is no fleet CA to check a signature against (README, Security model)");
            return;
        }
        var redis = cluster.Own(await RedisServer.StartAsync());
        var mosquitto = cluster.Own(await MosquittoServer.StartAsync());
        // Announcements carry no manifest here (announceManifestMax 0): the subscriber must ask the second broker
        // for it, which serves the one rewritten in Redis. (A carried manifest is the one broker 0 signed at the
        // publish, untouched by the rewrite; InlineManifestTests cover that path.)
        var config = Path.Combine(cluster.Root, "no-inline-manifest.json");
        await File.WriteAllTextAsync(config, """{ "announceManifestMax": 0 }""");
        var brokers = await SeveralBrokers.StartAsync(cluster, 2, redis.Url, mosquitto.Url, "--config", config);
        await SeveralBrokers.WaitForFleetAsync(brokers, 2, TimeSpan.FromSeconds(20));
        // Each side talks to one broker only, so which broker serves which manifest is fixed: the tampered
        // file is registered at the first and fetched from the second, which never held it in memory.
        var registering = await cluster.StartAgentAsync("pub1", extraArgs: SeveralBrokers.AgentArgs([brokers[0]]));
        var honest = await cluster.StartAgentAsync("pub2", extraArgs: SeveralBrokers.AgentArgs([brokers[1]]));

        var tamperedFile = await cluster.CreateFileAsync("tampered.bin", 3 * MiB + 11, seed: 1301);
        await cluster.PublishAsync(registering, tamperedFile, Topic);
        var rewritten = await RewriteFirstPieceDigestAsync(redis, tamperedFile.Digest);
        cluster.Log($"manifest of {tamperedFile.Digest} rewritten in Redis: piece 0 now {Convert.ToHexString(rewritten)[..16]}…");

        cluster.AllowErrorLogs("the subscriber refuses the rewritten manifest and logs its failed task");
        var subscriber = await cluster.StartAgentAsync("sub", [Topic], SeveralBrokers.AgentArgs([brokers[1]]));
        var refused = await Wait.ForAsync($"the subscriber to end the task of {tamperedFile.Digest}", TestCluster.TransferTimeout, async () =>
            await subscriber.GetTaskAsync(tamperedFile.Digest) is { State: "failed" or "succeeded" } task ? task : null, guard: cluster.Launcher.ThrowIfAnyCrashed);

        cluster.Log($"subscriber: {refused}");
        Assert.Equal("failed", refused.State);
        Assert.Contains("was refused", refused.Error ?? "", StringComparison.Ordinal);
        Assert.Equal(0, refused.BytesFromPeers + refused.BytesFromSource);
        Assert.Equal(1.0, (await subscriber.GetMetricsAsync()).Find("dragonfly_agent_manifests_rejected_total", ("reason", "bad_signature")) ?? 0);
        Assert.False(File.Exists(subscriber.OutputPathOf(Topic, tamperedFile.Name)), "a file whose manifest was refused reached the output directory");

        // An honest publish through the second broker, on the same topic, lands verified beside it.
        var honestFile = await cluster.CreateFileAsync("honest.bin", 2 * MiB + 5, seed: 1302);
        await cluster.PublishAsync(honest, honestFile, Topic);
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic, honestFile.Name), honestFile, TestCluster.TransferTimeout);
        Assert.Equal([honestFile.Name], Directory.EnumerateFiles(Path.Combine(subscriber.OutputDir, Topic)).Select(Path.GetFileName));
    }, TimeSpan.FromMinutes(3));

    /// <summary>
    /// What someone with write access to the shared state could do: piece 0's digest replaced by that of other
    /// bytes, the broker's signature left as it was. Returns the new digest.
    /// </summary>
    private static async Task<byte[]> RewriteFirstPieceDigestAsync(RedisServer redis, string digest)
    {
        using var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
        var db = connection.GetDatabase();
        var key = "dragonfly:manifest:" + digest;
        var stored = await db.StringGetAsync(key);
        Assert.True(stored.HasValue, $"Redis has no {key}; did the broker's key layout change (RedisCatalogueStore)?");
        var manifest = Manifest.Parser.ParseFrom((byte[])stored!);
        Assert.False(string.IsNullOrEmpty(manifest.Signature), "the broker stored the manifest unsigned");
        var other = System.Security.Cryptography.SHA256.HashData("other bytes"u8);
        manifest.PieceDigests[0] = ByteString.CopyFrom(other);
        Assert.True(await db.StringSetAsync(key, manifest.ToByteArray()));
        return other;
    }
}
