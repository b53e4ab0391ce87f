using System.Globalization;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.IntegrationTests.BackToSource;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Swarm;

/// <summary>
/// Two clusters (issue 12, "across clusters and clouds"), each with its own Mosquitto, dfbroker and agents, as
/// README "Across clusters" sets them up: cluster B's Mosquitto bridges cluster A's announcements in (a real
/// Mosquitto bridge, <c>topic # in 1 dragonfly/bridged/ dragonfly/announce/</c>) and B's broker runs with
/// <c>--bridge-from</c> A's scheduler. A file published in A and a URL fetched in A reach B's subscribers; B
/// fetches each once from A's swarm (its bridge member), and the origin serves one copy for both clusters.
/// Both brokers share the fleet CA (in TLS mode); the MQTT legs are plain text in both modes.
/// </summary>
public sealed partial class BridgedClustersTests(ITestOutputHelper output)
{
    private const string Topic = "releases/bridged";

    [Fact]
    public Task PublishedFileAndUrlInClusterA_ReachClusterB_FetchedOnceAcrossTheBridge_OriginServesOneCopy() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var origin = await TestFile.CreateAsync(nginx.WwwPath("files/bridged-url.bin"), 16 * MiB + 3, seed: 611);
        var mosquittoA = cluster.Own(await MosquittoServer.StartAsync());
        var mosquittoB = cluster.Own(await MosquittoServer.StartAsync(persistent: false,
        [
            "connection cluster-a",
            $"address 127.0.0.1:{mosquittoA.Port.ToString(CultureInfo.InvariantCulture)}",
            "topic # in 1 dragonfly/bridged/ dragonfly/announce/",
        ]));
        var brokerA = await cluster.StartBrokerAsync(extraArgs: ["--mqtt-url", mosquittoA.Url]);
        List<string> bArgs = ["--mqtt-url", mosquittoB.Url, "--bridge-from", brokerA.Ports.GrpcAddress];
        if (!TlsMode.Insecure)
        {
            bArgs.AddRange(["--tls-ca", Path.Combine(brokerA.DataDir, "tls", "ca.crt"), "--tls-ca-key", Path.Combine(brokerA.DataDir, "tls", "ca.key")]);
        }
        var brokerB = await BrokerProcess.StartAsync(cluster.Launcher, Path.Combine(cluster.Root, "broker-b"), name: "broker-b", extraArgs: bArgs);
        brokerB.Fleet = brokerA.Fleet;

        var publisher = await cluster.StartAgentAsync("pub");
        var inA = await cluster.StartAgentsAsync("a", 2, [Topic]);
        var inB = await Task.WhenAll(Enumerable.Range(1, 2).Select(i => cluster.StartAgentAsync($"b-{i}", [Topic], broker: brokerB.Ports)));
        AgentProcess[] everyone = [.. inA, .. inB];

        // A file published in cluster A.
        var file = await cluster.CreateFileAsync("bridged.bin", 8 * MiB + 5, seed: 612);
        await cluster.PublishAsync(publisher, file, Topic);
        await cluster.WaitForFileOnAllAsync(everyone, Topic, file);

        // A URL announced in cluster A: its seed reads the origin once, for both clusters.
        var published = await cluster.RunCliAsync("dfpub",
            ["--url", nginx.Http("files/bridged-url.bin").AbsoluteUri, "--topic", Topic, "--name", "app.bin", "--data-dir", publisher.DataDir]);
        Assert.True(published.ExitCode == 0, $"dfpub --url failed:\n{published}");
        var urlTask = published.LastStdoutLine;
        await Task.WhenAll(everyone.Select(a => a.WaitForFileAsync(a.OutputPathOf(Topic, "app.bin"), origin, TestCluster.TransferTimeout)));

        // Cluster B took each from cluster A's swarm exactly once, all from A's peers, none from an origin.
        var imports = Imports(brokerB);
        cluster.Log($"bridge imports: {string.Join("; ", imports.Select(i => $"{i.Digest[..19]}… {i.FromPeers} from peers, {i.FromSource} from origins"))}");
        foreach (var (digest, size) in new[] { (file.Digest, file.Size), (urlTask, origin.Size) })
        {
            var import = Assert.Single(imports, i => i.Digest == digest);
            Assert.True(import.FromPeers == size && import.FromSource == 0,
                $"the bridge should have fetched {digest} once from cluster A's peers ({size} bytes), it took {import.FromPeers} from peers and {import.FromSource} from origins");
        }
        UrlTasks.AssertOriginEgress(cluster, "nginx (both clusters)", await nginx.ServedBodyBytesAsync("/files/bridged-url.bin"), origin.Size);
        foreach (var agent in inB)
        {
            Assert.True(await UrlTasks.SourceBytesAsync(agent) == 0, $"{agent.Name} (cluster B) should not have read the origin");
        }

        if (!TlsMode.Insecure)
        {
            // Whoever can write into B's MQTT broker cannot make B import something: an unsigned announcement is ignored.
            var forged = new Contracts.Announcement
            {
                Digest = "sha256:" + new string('a', 64), Name = "forged.bin", Topic = Topic, Size = 1024, PieceSize = 4 * (int)MiB, PieceCount = 1,
                CreatedAt = DateTimeOffset.UtcNow, Sequence = long.MaxValue / 2,
            };
            var sent = await ProcessRunner.RunAsync("/usr/bin/mosquitto_pub",
                ["-V", "mqttv5", "-h", "127.0.0.1", "-p", mosquittoB.Port.ToString(CultureInfo.InvariantCulture), "-q", "1",
                 "-t", "dragonfly/bridged/" + Topic, "-m", System.Text.Encoding.UTF8.GetString(forged.ToJsonUtf8())], timeout: TimeSpan.FromSeconds(20));
            Assert.True(sent.ExitCode == 0, $"mosquitto_pub failed:\n{sent.Output}");
            await Wait.UntilAsync("broker B to ignore the unsigned bridged announcement", TimeSpan.FromSeconds(20), () => Task.FromResult(
                brokerB.Process.LinesWhere(l => l.Contains("bridge: ignored a message on dragonfly/bridged/" + Topic, StringComparison.Ordinal)
                    && l.Contains("forged.bin", StringComparison.Ordinal)).Count > 0));
            Assert.DoesNotContain(Imports(brokerB), i => i.Digest == forged.Digest);
        }
    }, TimeSpan.FromMinutes(5));

    /// <summary>
    /// Several brokers on each side (README "Across clusters"): cluster B runs two brokers on one Redis, both given
    /// <c>--bridge-from</c> a list of A's brokers whose first is down, and <c>--bridge-to</c> both of B's, as B's
    /// agents are given them. File X hashes to B's second broker, which starts only after the first imported X: the
    /// first one's local member publishes X where B's agents look for it (it moves to the second broker when that
    /// comes up), and the second skips the import the first made. File Y, bridged with both up, is imported once.
    /// </summary>
    [Fact]
    public Task SeveralBrokersInEachCluster_EachFileImportedOnce_PublishedOnTheBrokerItsDigestHashesTo() => TestCluster.RunAsync(output, async cluster =>
    {
        var mosquittoA = cluster.Own(await MosquittoServer.StartAsync());
        var mosquittoB = cluster.Own(await MosquittoServer.StartAsync(persistent: false,
        [
            "connection cluster-a",
            $"address 127.0.0.1:{mosquittoA.Port.ToString(CultureInfo.InvariantCulture)}",
            "topic # in 1 dragonfly/bridged/ dragonfly/announce/",
        ]));
        var redisB = cluster.Own(await RedisServer.StartAsync());
        var brokerA = await cluster.StartBrokerAsync(extraArgs: ["--mqtt-url", mosquittoA.Url]);
        // B's brokers are named before they start (--bridge-to), so their ports are chosen here.
        var portsB = Enumerable.Range(0, 2).Select(_ => new BrokerPorts(0, FreePort.Next(), FreePort.Next())).ToArray();
        string[] namesB = [.. portsB.Select(p => p.GrpcAddress)];
        var downA = $"127.0.0.1:{FreePort.Next().ToString(CultureInfo.InvariantCulture)}"; // one of A's brokers, down
        List<string> bArgs =
        [
            "--state", redisB.Url, "--mqtt-url", mosquittoB.Url,
            "--bridge-from", $"{downA},{brokerA.Ports.GrpcAddress}", "--bridge-to", string.Join(",", namesB),
        ];
        if (!TlsMode.Insecure)
        {
            bArgs.AddRange(["--tls-ca", Path.Combine(brokerA.DataDir, "tls", "ca.crt"), "--tls-ca-key", Path.Combine(brokerA.DataDir, "tls", "ca.key")]);
        }
        var b1 = await BrokerProcess.StartAsync(cluster.Launcher, Path.Combine(cluster.Root, "broker-b1"), portsB[0], "broker-b1", bArgs);
        b1.Fleet = brokerA.Fleet;
        var publisher = await cluster.StartAgentAsync("pub");

        // X: a file whose digest B's agents place on B's second broker, which is not up yet.
        TestFile x = null!;
        for (var seed = 700; x is null || RendezvousHash.Order(namesB, n => n, x.Digest)[0] != namesB[1]; seed++)
        {
            x = await cluster.CreateFileAsync($"x-{seed}.bin", 6 * MiB + 1, seed);
        }
        await cluster.PublishAsync(publisher, x, Topic);
        await Wait.UntilAsync($"broker-b1 to import {x.Name}", TestCluster.TransferTimeout,
            () => Task.FromResult(Imports(b1).Any(i => i.Digest == x.Digest)), guard: cluster.Launcher.ThrowIfAnyCrashed);

        // B's second broker: the retained bridged announcement of X reaches it, and it does not import X again.
        var b2 = await BrokerProcess.StartAsync(cluster.Launcher, Path.Combine(cluster.Root, "broker-b2"), portsB[1], "broker-b2", bArgs);
        b2.Fleet = brokerA.Fleet;
        BrokerProcess[] inClusterB = [b1, b2];
        await SeveralBrokers.WaitForFleetAsync(inClusterB, 2, TimeSpan.FromSeconds(20));
        await Wait.UntilAsync($"broker-b2 to skip {x.Name}, imported by broker-b1", TimeSpan.FromSeconds(30), () => Task.FromResult(
            b2.Process.LinesWhere(l => l.Contains($"bridge: {x.Digest} ({x.Name}) was imported by broker ", StringComparison.Ordinal)).Count > 0));

        var inB = await Task.WhenAll(Enumerable.Range(1, 2).Select(i =>
            cluster.StartAgentAsync($"b-{i}", [Topic], ["--broker", string.Join(",", namesB)], broker: b1.Ports)));
        await cluster.WaitForFileOnAllAsync(inB, Topic, x);
        Assert.Same(b2, await SeveralBrokers.OwnerOfAsync(inClusterB, x.Digest));

        // Y, bridged with both of B's brokers up and following the bridge: one of them imports it, once.
        var y = await cluster.CreateFileAsync("y.bin", 5 * MiB + 3, seed: 699);
        await cluster.PublishAsync(publisher, y, Topic);
        await cluster.WaitForFileOnAllAsync(inB, Topic, y);

        foreach (var file in new[] { x, y })
        {
            var imports = inClusterB.SelectMany(b => Imports(b).Where(i => i.Digest == file.Digest).Select(i => (Broker: b.Process.Name, i.FromPeers, i.FromSource))).ToList();
            cluster.Log($"{file.Name}: imported by {string.Join(", ", imports.Select(i => i.Broker))}");
            var import = Assert.Single(imports);
            Assert.True(import.FromPeers == file.Size && import.FromSource == 0,
                $"{import.Broker} should have fetched {file.Name} from cluster A's peers ({file.Size} bytes), it took {import.FromPeers} from peers and {import.FromSource} from origins");
        }
        Assert.Same(b1, inClusterB.Single(b => Imports(b).Any(i => i.Digest == x.Digest)));
    }, TimeSpan.FromMinutes(5));

    private static List<(string Digest, long FromPeers, long FromSource)> Imports(BrokerProcess broker) =>
        broker.Process.LinesWhere(l => l.Contains("bridge: imported ", StringComparison.Ordinal))
            .Select(l => ImportLine().Match(l))
            .Where(m => m.Success)
            .Select(m => (m.Groups[1].Value, long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)))
            .ToList();

    [GeneratedRegex(@"bridge: imported (sha256:[0-9a-f]{64}) .*?: (\d+) bytes from its peers, (\d+) from an origin")]
    private static partial Regex ImportLine();
}
