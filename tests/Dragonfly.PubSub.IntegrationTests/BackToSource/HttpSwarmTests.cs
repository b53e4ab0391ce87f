using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.BackToSource;

/// <summary>
/// Many agents ask for the same HTTP(S) URL at once: the origin (a real nginx, whose access log
/// counts every body byte) serves about one copy, fetched by the broker's seed peer, or by exactly
/// one agent when the broker runs without a seed.
/// </summary>
public sealed class HttpSwarmTests(ITestOutputHelper output)
{
    [Fact]
    public Task Dfget_8AgentsOnSame64MiBUrl_AllCorrect_OriginServesOneCopyThroughSeed() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/f.bin"), 64 * MiB, seed: 301);
        var broker = await cluster.StartBrokerAsync();
        Assert.True(broker.Info.SeedPort > 0, $"broker.json should report the seed peer's port (seedPort), got {broker.Info}");
        var agents = await cluster.StartAgentsAsync("agent", 8);

        var url = nginx.Http("files/f.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "f.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i])));

        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }
        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/files/f.bin"), file.Size);
        await UrlTasks.AssertSeedFetchedAsync(cluster, agents, file.Size);
    }, TimeSpan.FromMinutes(5));

    [Fact]
    public Task Dfget_8AgentsOnSameHttpsUrl_TrustingTestCa_AllCorrect_OriginServesOneCopy() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/tls.bin"), 16 * MiB + 4321, seed: 302);
        // .NET on Linux reads its root store through OpenSSL, which honours SSL_CERT_FILE: the broker's
        // seed and the agents trust the CA this test made, and only it.
        cluster.Launcher.SetEnvironment("SSL_CERT_FILE", nginx.Certificates.WriteCaBundle(Path.Combine(cluster.Root, "test-ca.pem")));
        await cluster.StartBrokerAsync();
        var agents = await cluster.StartAgentsAsync("agent", 8);

        var url = nginx.Https("files/tls.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "tls.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i])));

        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }
        UrlTasks.AssertOriginEgress(cluster, "nginx (https)", await nginx.ServedBodyBytesAsync("/files/tls.bin"), file.Size);
        await UrlTasks.AssertSeedFetchedAsync(cluster, agents, file.Size);
    });

    [Fact]
    public Task Dfget_SameObjectBehindTwoSignatures_IsOneTask_OriginServesOneCopy() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/signed.bin"), 16 * MiB, seed: 303);
        var broker = await cluster.StartBrokerAsync();
        var agents = await cluster.StartAgentsAsync("agent", 2);

        // nginx ignores the query: two signatures of one object, as a presigned S3 URL would carry.
        Uri[] urls =
        [
            new(nginx.Http("files/signed.bin") + "?X-Amz-Signature=a&X-Amz-Date=1"),
            new(nginx.Http("files/signed.bin") + "?X-Amz-Signature=b&X-Amz-Date=2"),
        ];
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "signed.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, urls[i], outputs[i], "--json")));

        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }
        var ids = results.Select(UrlTasks.JsonDigest).ToList();
        Assert.True(ids[0] == ids[1], $"two signatures of one object gave two task ids: {ids[0]} and {ids[1]}");
        var manifest = await broker.GetManifestAsync(ids[0]);
        Assert.True(manifest.UrlTask, $"the broker's manifest of {ids[0]} is not a URL task");
        var expected = UrlTaskId.Compute(nginx.Http("files/signed.bin"), manifest.PieceSize).ToString();
        Assert.True(ids[0] == expected, $"task id {ids[0]} is not UrlTaskId(url without the signature, piece size {manifest.PieceSize}) = {expected}");
        Assert.True(manifest.ContentDigest == file.Digest, $"the broker's manifest says content {manifest.ContentDigest}, the file is {file.Digest}");

        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/files/signed.bin"), file.Size);
        await UrlTasks.AssertSeedFetchedAsync(cluster, agents, file.Size);
    });

    [Fact]
    public Task Dfget_StandaloneSeedAgent_FetchesFromOriginInsteadOfTheAgents() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/seeded.bin"), 12 * MiB + 5, seed: 305);
        await cluster.StartBrokerAsync(extraArgs: ["--no-seed"]);
        var seed = await cluster.StartAgentAsync("seed", extraArgs: ["--seed"]);
        var agents = await cluster.StartAgentsAsync("agent", 3);

        var url = nginx.Http("files/seeded.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "seeded.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i])));

        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }
        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/files/seeded.bin"), file.Size);
        var seeded = await UrlTasks.SourceBytesAsync(seed);
        cluster.Log($"dfagent --seed fetched {seeded} bytes from the origin");
        Assert.True(seeded >= file.Size && seeded <= UrlTasks.MaxEgress * file.Size,
            $"dfagent --seed fetched {seeded} bytes = {UrlTasks.Ratio(seeded, file.Size)} x the file from the origin; expected about one copy");
        foreach (var agent in agents)
        {
            Assert.True(await UrlTasks.SourceBytesAsync(agent) == 0, $"{agent.Name} went to the origin although a seed was connected");
        }
        Assert.False(Directory.EnumerateFiles(seed.OutputDir, "*", SearchOption.AllDirectories).Any(),
            "a seed keeps what it fetched in its store and writes no output file");
    });

    [Fact]
    public Task Dfget_4AgentsWithoutSeed_ExactlyOneAgentFetchesFromOrigin() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/noseed.bin"), 24 * MiB + 777, seed: 304);
        var broker = await cluster.StartBrokerAsync(extraArgs: ["--no-seed"]);
        // Secure mode: only the seed role may go to an origin, so these agents are enrolled as agent and seed.
        string[] enrol = TlsMode.Insecure ? [] : ["--join-token", await TestFleet.CreateTokenAsync(cluster, broker, "agent,seed", 4)];
        var agents = await cluster.StartAgentsAsync("agent", 4, extraArgs: enrol);

        var url = nginx.Http("files/noseed.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "noseed.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i])));

        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }
        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/files/noseed.bin"), file.Size);

        var fetched = new List<(string Agent, double Bytes)>();
        foreach (var agent in agents)
        {
            fetched.Add((agent.Name, await UrlTasks.SourceBytesAsync(agent)));
        }
        var figures = string.Join(", ", fetched.Select(f => $"{f.Agent}={f.Bytes}"));
        cluster.Log($"agents' origin bytes without a seed: {figures}");
        var sources = fetched.Where(f => f.Bytes > 0).ToList();
        Assert.True(sources.Count == 1, $"expected exactly one agent to fetch from the origin, got: {figures}");
        Assert.True(sources[0].Bytes >= file.Size && sources[0].Bytes <= UrlTasks.MaxEgress * file.Size,
            $"the source agent fetched {sources[0].Bytes} bytes = {UrlTasks.Ratio(sources[0].Bytes, file.Size)} x the file; expected about one copy");
        var seed = (await broker.GetMetricsAsync()).Require(UrlTasks.BrokerSourceBytes);
        Assert.True(seed >= file.Size && seed <= UrlTasks.MaxEgress * file.Size,
            $"{UrlTasks.BrokerSourceBytes} is {seed}; it counts what the task's source reported, about {file.Size}");
    });
}
