using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.BackToSource;

/// <summary><c>dfget URL</c> where no daemon runs: an embedded one-shot agent joins the swarm and leaves nothing behind.</summary>
public sealed class EmbeddedAgentTests(ITestOutputHelper output)
{
    [Fact]
    public Task Dfget_NoDaemonAtDataDir_EmbeddedAgentDownloads_AndRemovesItsTempDataDir() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/oneshot.bin"), 8 * MiB + 11, seed: 341);
        var broker = await cluster.StartBrokerAsync();
        var dataDir = Directory.CreateDirectory(Path.Combine(cluster.Root, "no-daemon")).FullName;
        // Path.GetTempPath() honours TMPDIR: whatever temp data dir the one-shot agent makes is in here.
        var temp = Directory.CreateDirectory(Path.Combine(cluster.Root, "tmp")).FullName;

        var target = cluster.OutputPath("oneshot", "oneshot.bin");
        var running = cluster.RunCliAsync("dfget",
            [nginx.Http("files/oneshot.bin").AbsoluteUri, "-O", target, "--broker", broker.Ports.GrpcAddress, "--data-dir", dataDir],
            TestCluster.TransferTimeout, new Dictionary<string, string?> { ["TMPDIR"] = temp });
        // Watch TMPDIR while dfget runs, so that "nothing left there" below cannot pass vacuously.
        var sawTempDataDir = false;
        while (!running.IsCompleted)
        {
            sawTempDataDir |= Directory.EnumerateFileSystemEntries(temp).Any();
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }
        var result = await running;

        await UrlTasks.AssertDownloadedAsync(result, target, file);
        Assert.True(sawTempDataDir, $"no temp data dir appeared in TMPDIR while dfget ran; did it start an embedded agent?\n{result}");
        var leftInTemp = Directory.GetFileSystemEntries(temp, "*", SearchOption.AllDirectories);
        Assert.True(leftInTemp.Length == 0, $"the one-shot agent left {string.Join(", ", leftInTemp)} in TMPDIR:\n{result}");
        var leftInDataDir = Directory.Exists(dataDir) ? Directory.GetFileSystemEntries(dataDir, "*", SearchOption.AllDirectories) : [];
        Assert.True(leftInDataDir.Length == 0, $"the one-shot agent left {string.Join(", ", leftInDataDir)} in --data-dir:\n{result}");
        Assert.Equal([target], Directory.GetFileSystemEntries(Path.GetDirectoryName(target)!));
        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/files/oneshot.bin"), file.Size);
    });
}
