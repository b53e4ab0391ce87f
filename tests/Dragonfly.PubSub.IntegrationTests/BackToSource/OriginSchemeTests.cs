using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.BackToSource;

/// <summary>
/// ftp://, s3:// and file:// URLs end to end through the swarm: two agents ask at once, both get
/// the file, the seed read the origin in ranges (REST offsets, Range headers) and about once.
/// </summary>
public sealed class OriginSchemeTests(ITestOutputHelper output)
{
    [Fact]
    public Task Dfget_FtpUrl_2Agents_AllCorrect_ServerSendsEachPieceOnceFromItsRestOffset() => TestCluster.RunAsync(output, async cluster =>
    {
        var ftp = cluster.Own(await FtpServer.StartAsync());
        var file = await TestFile.CreateAsync(Path.Combine(ftp.Root, "data.bin"), 16 * MiB + 555, seed: 331);
        var broker = await cluster.StartBrokerAsync();
        var agents = await cluster.StartAgentsAsync("agent", 2);

        var url = ftp.Url("data.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "data.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i], "--json")));
        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }

        var manifest = await broker.GetManifestAsync(UrlTasks.JsonDigest(results[0]));
        var transfers = await FtpTransfersAsync(ftp, "data.bin");
        cluster.Log($"pyftpdlib transfers (offset/bytes/completed), piece size {manifest.PieceSize}: "
            + string.Join(", ", transfers.Select(t => $"{t.Offset}/{t.Bytes}/{(t.Completed ? 1 : 0)}")));
        Assert.True(manifest.PieceSize < file.Size && transfers.Any(t => t.Offset > 0),
            "the seed should read the pieces after the first one from their own offsets (REST), not stream the whole file");
        // FTP has no end of range: a reader stops after its piece and closes, and the server counts
        // what it had pushed into the socket buffers meanwhile. Count each transfer up to the end of
        // the piece it started in; a piece fetched twice still counts twice.
        var served = transfers.Sum(t => Math.Min(t.Bytes, Math.Min(file.Size, (t.Offset / manifest.PieceSize + 1) * manifest.PieceSize) - t.Offset));
        cluster.Log($"pyftpdlib pushed {transfers.Sum(t => t.Bytes)} bytes in all, {served} of them within the pieces asked for");
        UrlTasks.AssertOriginEgress(cluster, "pyftpdlib", served, file.Size);
        await UrlTasks.AssertSeedFetchedAsync(cluster, agents, file.Size);
    });

    [Fact]
    public Task Dfget_S3Url_2Agents_AllCorrect_OriginServesOneCopyInRanges() => TestCluster.RunAsync(output, async cluster =>
    {
        var s3 = cluster.Own(await S3Server.StartAsync());
        // s3rver logs sizes only rounded; an nginx in front of it counts the body bytes exactly.
        var proxy = cluster.Own(await NginxServer.StartAsync(proxyUpstream: s3.Endpoint));
        var file = await cluster.CreateFileAsync("s3-object.bin", 16 * MiB + 1234, seed: 332);
        await s3.PutFileAsync("releases/app.bin", file.Path);
        foreach (var (name, value) in s3.ClientEnvironment(proxy.Proxy))
        {
            cluster.Launcher.SetEnvironment(name, value);
        }
        // s3:// origins only of the buckets the broker is told (issue 11).
        await cluster.StartBrokerAsync(extraArgs: ["--s3-bucket", S3Server.Bucket]);
        var agents = await cluster.StartAgentsAsync("agent", 2);

        var url = new Uri($"s3://{S3Server.Bucket}/releases/app.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "app.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i])));
        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }

        var path = $"/{S3Server.Bucket}/releases/app.bin";
        var served = await proxy.ServedBodyBytesAsync(path);
        var gets = proxy.Requests(path).Where(r => r.Method == "GET").ToList();
        cluster.Log($"s3 GETs: {string.Join(", ", gets.Select(g => $"{g.Status} {g.Range} {g.BodyBytesSent}"))}");
        Assert.True(gets.Count > 0 && gets.All(g => g.Range.StartsWith("bytes=", StringComparison.Ordinal)),
            "the seed should read the object with ranged GETs: " + string.Join(", ", gets));
        UrlTasks.AssertOriginEgress(cluster, "s3rver", served, file.Size);
        await UrlTasks.AssertSeedFetchedAsync(cluster, agents, file.Size);
    });

    [Fact]
    public Task Dfget_FileUrl_2Agents_AllCorrect_SeedReadsItOnce() => TestCluster.RunAsync(output, async cluster =>
    {
        var file = await cluster.CreateFileAsync("local.bin", 8 * MiB + 3, seed: 333);
        // The broker's seed reads file:// URLs only under directories it was told to share.
        await cluster.StartBrokerAsync(extraArgs: ["--file-origin-root", Path.GetDirectoryName(file.Path)!]);
        var agents = await cluster.StartAgentsAsync("agent", 2);

        var url = new Uri(file.Path);
        Assert.Equal("file", url.Scheme);
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "local.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i])));
        for (var i = 0; i < agents.Count; i++)
        {
            await UrlTasks.AssertDownloadedAsync(results[i], outputs[i], file);
        }
        await UrlTasks.AssertSeedFetchedAsync(cluster, agents, file.Size);
    });

    /// <summary>The transfers of <paramref name="path"/>, once a moment passed for the last closed data connection to be logged.</summary>
    private static async Task<IReadOnlyList<FtpTransfer>> FtpTransfersAsync(FtpServer ftp, string path)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        return ftp.Transfers(path);
    }
}
