using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.CommandLine;

/// <summary><c>dfget</c> by content id through a daemon that is not subscribed to anything.</summary>
public sealed class DfgetTests(ITestOutputHelper output)
{
    [Fact]
    public Task Dfget_ByDigest_ThroughNonSubscribedDaemon_WritesIdenticalFile() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var getter = await cluster.StartAgentAsync("getter");
        var file = await cluster.CreateFileAsync("dfget-32m.bin", 32 * MiB, seed: 41);
        var published = await cluster.PublishAsync(publisher, file, "releases/app");
        Assert.True(published.Stdout.Trim() == file.Digest, $"dfpub should print only the content id on stdout:\n{published}");

        var target = Path.Combine(cluster.Root, "fetched", "app.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var result = await cluster.RunCliAsync("dfget", [file.Digest, "-O", target, "--data-dir", getter.DataDir], TestCluster.TransferTimeout);

        Assert.True(result.ExitCode == 0, $"dfget failed:\n{result}");
        Assert.True(File.Exists(target), $"dfget exited 0 but wrote no {target}:\n{result}");
        Assert.Equal(file.Sha256Hex, await TestFile.HashAsync(target));
        // The publisher recorded the SHA-256 chain, the broker kept it, and the getter proved the digest
        // it was asked for by its pieces' checks alone (one hashing pass, not two).
        Assert.True(getter.Process.StdoutHasLine(l => l.Contains("checked against the manifest's SHA-256 chain", StringComparison.Ordinal)),
            $"the getter should have checked the pieces against the manifest's chain:\n{getter.Process.Tail()}");
    });
}
