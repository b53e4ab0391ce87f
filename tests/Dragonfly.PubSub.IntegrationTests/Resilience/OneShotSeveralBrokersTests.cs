using Dragonfly.PubSub.IntegrationTests.BackToSource;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>
/// <c>dfget --broker A,B,C</c> where no daemon runs (issue 12): its one-shot agent takes the brokers' list as
/// dfagent does, places the task by rendezvous hashing over the brokers that answer, and so works with one of
/// them down, for a URL and for a published file's <c>sha256:</c> id alike.
/// </summary>
public sealed class OneShotSeveralBrokersTests(ITestOutputHelper output)
{
    private const string Topic = "releases/oneshot";

    [Fact]
    public Task Dfget_OneShotAgentGivenThreeBrokers_OneOfThemDown_DownloadsUrlAndDigest() => TestCluster.RunAsync(output, async cluster =>
    {
        var redis = cluster.Own(await RedisServer.StartAsync());
        var mosquitto = cluster.Own(await MosquittoServer.StartAsync());
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var urlFile = await TestFile.CreateAsync(nginx.WwwPath("files/oneshot-several.bin"), 6 * MiB + 3, seed: 511);
        var brokers = await SeveralBrokers.StartAsync(cluster, 3, redis.Url, mosquitto.Url);
        await SeveralBrokers.WaitForFleetAsync(brokers, 3, TimeSpan.FromSeconds(20));
        var publisher = await cluster.StartAgentAsync("pub", extraArgs: SeveralBrokers.AgentArgs(brokers));
        // A published file whose task lives on a broker other than the first (the one-shot agent enrols at the
        // first's HTTPS API, DFGET_BROKER_HTTP): that broker is then killed, so the digest's task must move.
        TestFile? published = null;
        BrokerProcess? owner = null;
        for (var seed = 512; owner is null || owner == brokers[0]; seed++)
        {
            Assert.True(seed < 520, "eight published files all hashed to the first broker; is rendezvous hashing spreading tasks?");
            published = await cluster.CreateFileAsync($"published-{seed}.bin", 5 * MiB + 7, seed: seed);
            await cluster.PublishAsync(publisher, published, Topic);
            owner = await Wait.ForAsync($"a broker to hold {published.Digest}", TimeSpan.FromSeconds(30),
                () => SeveralBrokers.OwnerOfAsync(brokers, published.Digest), guard: cluster.Launcher.ThrowIfAnyCrashed);
        }
        cluster.AllowErrorLogs("a broker is killed on purpose; the agents log that they lost it");
        await owner!.Process.KillAsync();
        cluster.Log($"{owner.Process.Name}, the broker of {published!.Digest}, killed");
        var survivors = brokers.Where(b => b != owner).ToList();
        await SeveralBrokers.WaitForFleetAsync(survivors, 2, TimeSpan.FromSeconds(20));
        var brokerList = SeveralBrokers.AgentArgs(brokers); // all three, the dead one included, as an operator's script would have them

        foreach (var (what, source, expected) in new[] { ("url", nginx.Http("files/oneshot-several.bin").AbsoluteUri, urlFile), ("digest", published.Digest, published) })
        {
            var dataDir = Directory.CreateDirectory(Path.Combine(cluster.Root, $"no-daemon-{what}")).FullName;
            var target = cluster.OutputPath($"oneshot-{what}", expected.Name);
            var result = await cluster.RunCliAsync("dfget", [source, "-O", target, .. brokerList, "--data-dir", dataDir], TestCluster.TransferTimeout);
            await UrlTasks.AssertDownloadedAsync(result, target, expected);
        }
        cluster.Log($"the published file's task is now on {(await SeveralBrokers.OwnerOfAsync(survivors, published.Digest))?.Process.Name ?? "no broker"}");
        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/files/oneshot-several.bin"), urlFile.Size);
    }, TimeSpan.FromMinutes(4));
}
