using System.Net;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Grpc.Core;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.CommandLine;

/// <summary>
/// Wrong input, from a user at the prompt or from the network: a precise exit code and one line,
/// nothing written, and every server still healthy afterwards.
/// </summary>
public sealed class BadInputTests(BadInputCluster shared, ITestOutputHelper output) : IClassFixture<BadInputCluster>
{
    private static readonly TimeSpan Quick = TimeSpan.FromSeconds(60);

    private TestCluster Cluster => shared.Cluster;

    [Fact]
    public Task Dfpub_FileDoesNotExist_Exits2() => Guard(async () =>
    {
        var missing = Path.Combine(Cluster.Root, "files", "does-not-exist.bin");
        var result = await Cluster.RunCliAsync("dfpub", [missing, "--topic", "releases/app", "--data-dir", shared.Publisher.DataDir], Quick);
        CliAssert.FailedWithOneLine(result, 2);
        AssertNotDelivered("does-not-exist.bin");
    });

    [Fact]
    public Task Dfpub_WildcardTopic_Exits2() => Guard(async () =>
    {
        var file = await Cluster.CreateFileAsync("wildcard.bin", 1 * MiB, seed: 101);
        var result = await Cluster.RunCliAsync("dfpub", [file.Path, "--topic", "releases/#", "--data-dir", shared.Publisher.DataDir], Quick);
        CliAssert.FailedWithOneLine(result, 2);
        await AssertUnknownToBrokerAsync(file);
        AssertNotDelivered(file.Name);
    });

    [Fact]
    public Task Dfpub_NameWithPath_Exits2() => Guard(async () =>
    {
        var file = await Cluster.CreateFileAsync("evil-source.bin", 1 * MiB, seed: 102);
        var result = await Cluster.RunCliAsync("dfpub",
            [file.Path, "--topic", "releases/app", "--name", "../evil", "--data-dir", shared.Publisher.DataDir], Quick);
        CliAssert.FailedWithOneLine(result, 2);
        await AssertUnknownToBrokerAsync(file);
        AssertNotDelivered("evil");
        AssertNotDelivered(file.Name);
    });

    [Fact]
    public Task Dfget_UnknownDigest_Exits1AndWritesNothing() => Guard(async () =>
    {
        var dir = Directory.CreateDirectory(Path.Combine(Cluster.Root, "dfget-unknown")).FullName;
        var unknown = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("nobody published this"u8));
        var result = await Cluster.RunCliAsync("dfget", [unknown, "-O", Path.Combine(dir, "out.bin"), "--data-dir", shared.Publisher.DataDir], Quick);
        CliAssert.FailedWithOneLine(result, 1);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    });

    [Fact]
    public Task Dfget_MalformedDigest_Exits2AndWritesNothing() => Guard(async () =>
    {
        var dir = Directory.CreateDirectory(Path.Combine(Cluster.Root, "dfget-malformed")).FullName;
        var result = await Cluster.RunCliAsync("dfget", ["sha256:xyz", "-O", Path.Combine(dir, "out.bin"), "--data-dir", shared.Publisher.DataDir], Quick);
        CliAssert.FailedWithOneLine(result, 2);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    });

    [Theory]
    [InlineData("not-a-url", null, null)]
    [InlineData("gopher://127.0.0.1:9/app.bin", null, null)]
    [InlineData("http://127.0.0.1:9/app.bin", "--header", "NoColonHere")]
    [InlineData("http://127.0.0.1:9/app.bin", "--digest", "sha256:xyz")]
    public Task Dfget_BadUrlInput_Exits2AndWritesNothing(string source, string? flag, string? value) => Guard(async () =>
    {
        // A live daemon answers on --data-dir: exit 2 can only come from the input.
        var dir = Directory.CreateDirectory(Path.Combine(Cluster.Root, "dfget-bad-url-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        List<string> args = [source, "-O", Path.Combine(dir, "out.bin"), "--data-dir", shared.Publisher.DataDir];
        if (flag is not null)
        {
            args.AddRange([flag, value!]);
        }
        var result = await Cluster.RunCliAsync("dfget", args, Quick);
        CliAssert.FailedWithOneLine(result, 2);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    });

    [Fact]
    public Task Dfpub_DaemonUpButBrokerUnreachable_Exits1() => Guard(async () =>
    {
        var file = await Cluster.CreateFileAsync("stranded.bin", 1 * MiB, seed: 103);
        var result = await Cluster.RunCliAsync("dfpub", [file.Path, "--topic", "releases/app", "--data-dir", shared.Stranded.DataDir], Quick);
        CliAssert.FailedWithOneLine(result, 1);
        Assert.Equal(HttpStatusCode.OK, await shared.Stranded.GetHealthAsync());
    });

    [Fact]
    public Task Dfpub_NoDaemonAtDataDir_Exits1() => Guard(async () =>
    {
        var file = await Cluster.CreateFileAsync("orphan.bin", 1 * MiB, seed: 104);
        var empty = Directory.CreateDirectory(Path.Combine(Cluster.Root, "no-daemon")).FullName;
        var result = await Cluster.RunCliAsync("dfpub", [file.Path, "--topic", "releases/app", "--data-dir", empty], Quick);
        CliAssert.FailedWithOneLine(result, 1);
        await AssertUnknownToBrokerAsync(file);
    });

    [Fact]
    public Task Announcement_NotJson_IsIgnoredAndNextPublishArrives() => Guard(async () =>
    {
        var mosquitto = await RunMosquittoPubAsync(
            ["-h", "127.0.0.1", "-p", Cluster.Broker.Ports.Mqtt.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "-q", "1", "-t", "dragonfly/announce/releases/app", "-m", "{not json", .. Cluster.Broker.Fleet?.MosquittoArgs ?? []]);
        Assert.True(mosquitto.ExitCode == 0, $"mosquitto_pub could not publish to the broker:\n{mosquitto}");

        var file = await Cluster.CreateFileAsync("after-garbage.bin", 4 * MiB, seed: 105);
        await Cluster.PublishAsync(shared.Publisher, file, "releases/app");
        var sub = shared.Subscriber;
        await sub.WaitForFileAsync(sub.OutputPathOf("releases/app", file.Name), file, TestCluster.TransferTimeout);
        Assert.Equal(HttpStatusCode.OK, await sub.GetHealthAsync());
    });

    [Fact]
    public Task Grpc_GetManifestWithMalformedDigest_IsInvalidArgument() => Guard(async () =>
    {
        using var channel = Cluster.Broker.CreateChannel();
        var client = new Scheduler.SchedulerClient(channel);
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.GetManifestAsync(new GetManifestRequest { Digest = "nonsense" }, deadline: DateTime.UtcNow.AddSeconds(15)));
        Assert.True(error.StatusCode == StatusCode.InvalidArgument, $"expected InvalidArgument, got {error.StatusCode}: {error.Status.Detail}");
        Assert.Equal(HttpStatusCode.OK, await Cluster.Broker.GetHealthAsync());
    });

    [Fact]
    public Task Grpc_ConnectWithoutHello_IsInvalidArgument() => Guard(async () =>
    {
        using var channel = Cluster.Broker.CreateChannel();
        var client = new Scheduler.SchedulerClient(channel);
        using var call = client.Connect(deadline: DateTime.UtcNow.AddSeconds(15));
        await call.RequestStream.WriteAsync(new PeerEvent { Join = new JoinTask { Digest = "sha256:" + new string('0', 64) } });
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                // A broker that answers before it rejects is still wrong; keep reading to the status.
            }
        });
        Assert.True(error.StatusCode == StatusCode.InvalidArgument, $"expected InvalidArgument, got {error.StatusCode}: {error.Status.Detail}");
        Assert.Equal(HttpStatusCode.OK, await Cluster.Broker.GetHealthAsync());
    });

    private Task Guard(Func<Task> body) => Cluster.GuardAsync(output, _ => body(), TimeSpan.FromMinutes(2));

    private async Task AssertUnknownToBrokerAsync(TestFile file)
    {
        using var response = await Cluster.Broker.Http.GetAsync($"api/v1/tasks/{file.Digest}");
        Assert.True(response.StatusCode == HttpStatusCode.NotFound,
            $"the broker knows {file.Digest} although dfpub was rejected: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Nothing named <paramref name="name"/> anywhere under the subscriber's folders.</summary>
    private void AssertNotDelivered(string name)
    {
        var root = Path.GetDirectoryName(shared.Subscriber.OutputDir)!;
        var found = Directory.EnumerateFileSystemEntries(root, name, SearchOption.AllDirectories).ToList();
        Assert.True(found.Count == 0, $"rejected input reached the subscriber: {string.Join(", ", found)}");
    }

    private static async Task<CliResult> RunMosquittoPubAsync(IReadOnlyList<string> args)
    {
        const string executable = "/usr/bin/mosquitto_pub";
        Assert.True(File.Exists(executable), "mosquitto_pub is missing: apt-get install mosquitto-clients (eng/test.sh does)");
        return await Infrastructure.Cli.RunAsync(executable, args, TimeSpan.FromSeconds(30));
    }
}
