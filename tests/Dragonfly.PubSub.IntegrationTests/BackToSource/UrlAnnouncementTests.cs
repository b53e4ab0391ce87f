using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.BackToSource;

/// <summary><c>dfpub --url</c>: subscribed agents receive a URL announced on their topic, fetched from the origin once.</summary>
public sealed class UrlAnnouncementTests(ITestOutputHelper output)
{
    private const string Topic = "releases/url";

    [Fact]
    public Task DfpubUrl_To8Subscribers_AllGetTheFile_OriginServesOneCopyThroughSeed() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/origin-64m.bin"), 64 * MiB, seed: 311);
        await cluster.StartBrokerAsync();
        var starting = cluster.StartAgentAsync("pub");
        var subscribers = await cluster.StartAgentsAsync("sub", 8, [Topic]);
        var publisher = await starting;

        var url = nginx.Http("files/origin-64m.bin");
        var published = await cluster.RunCliAsync("dfpub",
            ["--url", url.AbsoluteUri, "--topic", Topic, "--name", "app.bin", "--data-dir", publisher.DataDir]);
        Assert.True(published.ExitCode == 0, $"dfpub --url failed:\n{published}");
        var taskId = published.LastStdoutLine;
        Assert.True(Contracts.ContentDigest.TryParse(taskId, out _), $"dfpub --url should print the task id sha256:<hex>:\n{published}");

        var arrivals = await Task.WhenAll(subscribers.Select(s =>
            s.WaitForFileAsync(s.OutputPathOf(Topic, "app.bin"), file, TestCluster.TransferTimeout)));
        Assert.All(arrivals, a => Assert.True(a.Anomalies.Count == 0, $"{a.Path}: {string.Join("; ", a.Anomalies)}"));

        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/files/origin-64m.bin"), file.Size);
        await UrlTasks.AssertSeedFetchedAsync(cluster, [publisher, .. subscribers], file.Size);
    }, TimeSpan.FromMinutes(5));
}
