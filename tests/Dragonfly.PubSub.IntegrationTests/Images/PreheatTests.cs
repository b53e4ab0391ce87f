using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// Preheat of one platform of a real two-platform image (docker-registry, pushed with skopeo) to a
/// topic that agents in two clusters subscribe to, then an agent that subscribes only after the job
/// (it gets the retained image announcement, which lists every blob), then a pull through an agent's
/// registry mirror served from what was preheated. Prints the figures of the closing note: time to
/// preheat to the agents, bytes the registry served against the platform's size.
/// </summary>
public sealed class PreheatTests(ITestOutputHelper output)
{
    private const int LayerBytes = 8 * (int)MiB;

    [Fact]
    public Task Preheat_Arm64ToTwoClusters_EveryAgentHoldsExactlyArm64_RegistryServesEachBlobOnce_ALaterSubscriberGetsEveryBlobFromPeers_ThenMirrorPullNeedsNoBlobFromRegistry() =>
        TestCluster.RunAsync(output, async cluster =>
    {
        var pushed = await PushedImage.StartAsync(cluster, seed: 401, LayerBytes);
        var registry = pushed.Registry;
        var broker = await cluster.StartBrokerAsync();
        string[] mirror = ["--registry-mirror", registry.BaseUri.GetLeftPart(UriPartial.Authority)];
        var agents = await Task.WhenAll(
            cluster.StartAgentAsync("a-1", [ImageSteps.Topic], ["--cluster", "a", .. mirror]),
            cluster.StartAgentAsync("a-2", [ImageSteps.Topic], ["--cluster", "a", .. mirror]),
            cluster.StartAgentAsync("b-1", [ImageSteps.Topic], ["--cluster", "b", .. mirror]));
        await Task.WhenAll(agents.Select(a => a.WaitUntilConnectedAsync()));

        var arm64 = pushed.Arm64.Blobs.Select(b => b.ToString()).ToList();
        var amd64 = pushed.Amd64.Blobs.Select(b => b.ToString()).ToList();
        var arm64Bytes = pushed.Arm64.Blobs.Sum(pushed.Image.Size);
        var mark = registry.Requests().Count; // the push's requests come before

        // Preheat linux/arm64 and time it until the last agent holds the last blob.
        var watch = Stopwatch.StartNew();
        var result = await cluster.PreheatAsync(pushed.Reference, "linux/arm64");
        var jobDone = watch.Elapsed;
        Assert.True(result.ExitCode == 0, $"dfpub preheat failed:\n{result}");
        await Task.WhenAll(agents.Select(a => a.WaitForBlobsAsync(arm64, TimeSpan.FromSeconds(60))));
        var allHeld = watch.Elapsed;

        var job = ImageSteps.Job(result);
        Assert.True(job.GetProperty("state").GetString() == "succeeded", $"the job is not succeeded:\n{result}");
        Assert.True(job.GetProperty("digest").GetString() == pushed.Image.RootDigest.ToString(),
            $"the job resolved {pushed.Reference} to {job.GetProperty("digest")}, the pushed index is {pushed.Image.RootDigest}:\n{result}");
        Assert.Equal(["linux/arm64"], job.GetProperty("platforms").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal([pushed.Arm64.ManifestDigest.ToString()], job.GetProperty("manifests").EnumerateArray().Select(m => m.GetProperty("digest").GetString()));
        var id = job.GetProperty("id").GetString();
        var stored = await broker.Http.GetFromJsonAsync<JsonElement>($"api/v1/preheat/{id}");
        Assert.True(stored.GetProperty("state").GetString() == "succeeded", $"GET /api/v1/preheat/{id} shows {stored}");
        var blobs = ImageSteps.Blobs(job);
        Assert.True(blobs.Select(b => b.Digest).Order().SequenceEqual(arm64.Order()),
            $"the job lists blobs {string.Join(", ", blobs.Select(b => pushed.Describe(b.Digest)))}; expected the arm64 config and layers:\n{result}");
        foreach (var blob in blobs)
        {
            Assert.True(blob.State == "succeeded" && blob.Error is null, $"blob {pushed.Describe(blob.Digest)} is {blob.State} ({blob.Error})");
            Assert.True(blob.Size == pushed.Image.Size(ImageSteps.Digest(blob.Digest)), $"blob {pushed.Describe(blob.Digest)} has size {blob.Size} in the job");
            Assert.Equal(["linux/arm64"], blob.Platforms);
        }

        foreach (var agent in agents)
        {
            await agent.AssertHoldsExactlyAsync(pushed, arm64);
        }

        // The registry served each arm64 blob once in all (one fetch for two clusters) and no amd64 blob.
        // The seed reads a blob piece by piece (Range GETs, 206): "once" is one copy of its bytes in all.
        static bool IsBlobGet(RegistryRequest r) => r.Method == "GET" && r.BlobDigest is not null;
        await registry.WaitForRequestsAsync(IsBlobGet, registry.Requests().Take(mark).Count(IsBlobGet) + arm64.Count);
        await Task.Delay(200); // the registry logs a request just after answering it
        var fetched = registry.Requests().Skip(mark).Where(IsBlobGet).ToList();
        cluster.Log($"registry blob GETs of the preheat: {Describe(fetched)}");
        foreach (var digest in arm64)
        {
            var gets = fetched.Where(r => r.BlobDigest.ToString() == digest).ToList();
            var size = pushed.Image.Size(ImageSteps.Digest(digest));
            Assert.True(gets.Count > 0 && gets.All(r => r.Status is 200 or 206) && gets.Sum(r => r.Bytes) == size,
                $"the registry should have served {pushed.Describe(digest)} once in all ({size} bytes, in one GET or in ranges); its GETs: {Describe(gets)}");
        }
        var strays = fetched.Where(r => !arm64.Contains(r.BlobDigest.ToString()!)).ToList();
        Assert.True(strays.Count == 0, $"the registry got blob GETs besides the arm64 blobs: {Describe(strays)}");
        Assert.DoesNotContain(registry.Requests().Skip(mark), r => amd64.Any(d => r.Path.EndsWith(d, StringComparison.Ordinal)));

        var servedBytes = fetched.Where(r => r.Status is >= 200 and < 300).Sum(r => r.Bytes);
        var note = $"preheat of {pushed.Reference} linux/arm64 ({arm64.Count} blobs, {arm64Bytes} bytes) to 3 agents in 2 clusters: "
            + $"dfpub returned after {jobDone.TotalSeconds:0.00} s, all agents held every blob after {allHeld.TotalSeconds:0.00} s; "
            + $"registry served {servedBytes} blob bytes in {fetched.Count} GETs = {(double)servedBytes / arm64Bytes:0.000} x the platform's blobs ({arm64Bytes} bytes)";
        output.WriteLine(note);
        cluster.Log(note);
        foreach (var agent in agents)
        {
            var tasks = await agent.GetTasksAsync();
            cluster.Log($"{agent.Name} ({agent.Spec.ExtraArgs[1]}): {tasks.Sum(t => t.BytesFromPeers)} bytes from peers, {tasks.Sum(t => t.BytesFromSource)} from the source");
        }
        Assert.True(servedBytes == arm64Bytes, $"the registry served {servedBytes} blob bytes, the arm64 blobs are {arm64Bytes} bytes");

        // A node joining after the preheat: MQTT retains one message per topic, the image announcement that
        // lists every blob, so it prefetches all of them (not only the last one announced), from peers.
        var lateMark = registry.Requests().Count;
        var late = await cluster.StartAgentAsync("b-late", [ImageSteps.Topic], ["--cluster", "b", .. mirror]);
        await late.WaitUntilConnectedAsync();
        await late.WaitForBlobsAsync(arm64, TimeSpan.FromSeconds(60));
        await late.AssertHoldsExactlyAsync(pushed, arm64);
        var lateTasks = await late.GetTasksAsync();
        cluster.Log($"{late.Name}, subscribed after the preheat: {string.Join(" | ", lateTasks)}");
        Assert.True(lateTasks.All(t => t.BytesFromSource == 0) && lateTasks.Sum(t => t.BytesFromPeers) == arm64Bytes,
            $"{late.Name} should have fetched every arm64 blob ({arm64Bytes} bytes) from peers, none from the registry: {string.Join(" | ", lateTasks)}");
        Assert.True(late.Process.Stdout.Contains("preheated image " + pushed.Image.RootDigest, StringComparison.Ordinal),
            $"{late.Name} should have learned the blobs from the image announcement of {pushed.Image.RootDigest}:\n{late.Process.Tail()}");
        await Task.Delay(200); // the registry logs a request just after answering it
        var lateGets = registry.Requests().Skip(lateMark).Where(IsBlobGet).ToList();
        Assert.True(lateGets.Count == 0, $"the registry got blob GETs after the preheat, for {late.Name}: {Describe(lateGets)}");

        // A pull of linux/arm64 through a-1's mirror: manifests may pass through, blobs come from the cache.
        var pullMark = registry.Requests().Count;
        var directory = Path.Combine(cluster.Root, "pulled");
        var pull = await cluster.PullThroughMirrorAsync(pushed, agents[0], $"{PushedImage.Repository}:{PushedImage.Tag}", directory, "arm64", credentials: null);
        Assert.True(pull.ExitCode == 0, $"skopeo copy through {agents[0].Name}'s mirror failed (exit {pull.ExitCode}):\n{pull.Output}");
        var layout = ImageSteps.LayoutBlobs(directory);
        foreach (var digest in arm64.Append(pushed.Arm64.ManifestDigest.ToString()))
        {
            Assert.True(layout.Contains(digest), $"the pulled layout lacks {pushed.Describe(digest)}; it has {string.Join(", ", layout)}");
        }
        Assert.DoesNotContain(layout, amd64.Contains);
        await Task.Delay(200); // the registry logs a request just after answering it
        var duringPull = registry.Requests().Skip(pullMark).ToList();
        cluster.Log($"registry requests during the mirror pull: {Describe(duringPull)}");
        // The mirror asks the registry whether this client may have each blob (a HEAD, no body): a
        // preheated blob is not handed to whoever asks for it. Its bytes come from the swarm only.
        Assert.True(duringPull.All(r => r.IsManifest || r.Path == "/v2/" || (r.Method == "HEAD" && r.Path.Contains("/blobs/", StringComparison.Ordinal))),
            $"a pull of preheated blobs through the mirror fetched more than manifests and blob access checks from the registry: {Describe(duringPull)}");
        Assert.True(arm64.All(d => duringPull.Any(r => r.Method == "HEAD" && r.Path.EndsWith("/blobs/" + d, StringComparison.Ordinal))),
            $"the mirror should have asked the registry whether the client may pull each blob: {Describe(duringPull)}");
        await agents[0].AssertHoldsExactlyAsync(pushed, arm64);
    }, TimeSpan.FromMinutes(2));

    [Fact]
    public Task Preheat_ThenBrokerRestart_TheReplayedImageAnnouncementBringsEveryBlobToALaterSubscriber_FromPeers() =>
        TestCluster.RunAsync(output, async cluster =>
    {
        var pushed = await PushedImage.StartAsync(cluster, seed: 402, 2 * (int)MiB);
        var registry = pushed.Registry;
        await cluster.StartBrokerAsync();
        string[] mirror = ["--registry-mirror", registry.BaseUri.GetLeftPart(UriPartial.Authority)];
        var early = await cluster.StartAgentAsync("early", [ImageSteps.Topic], mirror);
        await early.WaitUntilConnectedAsync();
        var arm64 = pushed.Arm64.Blobs.Select(b => b.ToString()).ToList();
        var arm64Bytes = pushed.Arm64.Blobs.Sum(pushed.Image.Size);

        var result = await cluster.PreheatAsync(pushed.Reference, "linux/arm64");
        Assert.True(result.ExitCode == 0, $"dfpub preheat failed:\n{result}");
        Assert.True(ImageSteps.Job(result).GetProperty("state").GetString() == "succeeded", $"the job is not succeeded:\n{result}");
        await early.WaitForBlobsAsync(arm64, TimeSpan.FromSeconds(60));

        // The embedded MQTT server keeps retained messages in memory: the restarted broker replays the
        // topic's latest from its catalogue, which is the image announcement.
        await cluster.Broker.Process.StopAsync();
        await cluster.RestartBrokerAsync();
        var mark = registry.Requests().Count;
        var late = await cluster.StartAgentAsync("late", [ImageSteps.Topic], mirror);
        await late.WaitUntilConnectedAsync();
        await late.WaitForBlobsAsync(arm64, TimeSpan.FromSeconds(60));

        await late.AssertHoldsExactlyAsync(pushed, arm64);
        await early.AssertHoldsExactlyAsync(pushed, arm64);
        var lateTasks = await late.GetTasksAsync();
        cluster.Log($"{late.Name}, subscribed after the broker restarted: {string.Join(" | ", lateTasks)}");
        Assert.True(lateTasks.All(t => t.BytesFromSource == 0) && lateTasks.Sum(t => t.BytesFromPeers) == arm64Bytes,
            $"{late.Name} should have fetched every arm64 blob ({arm64Bytes} bytes) from peers, none from the registry: {string.Join(" | ", lateTasks)}");
        Assert.True(late.Process.Stdout.Contains("preheated image " + pushed.Image.RootDigest, StringComparison.Ordinal),
            $"{late.Name} should have learned the blobs from the replayed image announcement of {pushed.Image.RootDigest}:\n{late.Process.Tail()}");
        await Task.Delay(200); // the registry logs a request just after answering it
        var gets = registry.Requests().Skip(mark).Where(r => r.Method == "GET" && r.BlobDigest is not null).ToList();
        Assert.True(gets.Count == 0, $"the registry got blob GETs after the restart: {Describe(gets)}");
    }, TimeSpan.FromMinutes(2));

    private static string Describe(IEnumerable<RegistryRequest> requests)
    {
        var list = requests.Select(r => $"{r.Method} {r.Path} {r.Status} {r.Bytes} B").ToList();
        return list.Count == 0 ? "none" : string.Join("; ", list);
    }
}
