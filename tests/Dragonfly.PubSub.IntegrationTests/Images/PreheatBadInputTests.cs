using Dragonfly.PubSub.IntegrationTests.CommandLine;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// <c>dfpub preheat</c> with bad input, against a real registry and broker with subscribed agents:
/// an unknown image or tag (exit 1), a platform the image lacks (exit 2, naming the ones it has),
/// a malformed reference or platform and a missing <c>--platform</c> (exit 2 without asking the
/// broker). Each is one line on stderr, and afterwards no job exists and nothing is cached.
/// </summary>
public sealed class PreheatBadInputTests(ITestOutputHelper output)
{
    [Fact]
    public Task Preheat_BadInput_OneClearLine_RightExitCode_NoJobNothingCached() => TestCluster.RunAsync(output, async cluster =>
    {
        var pushed = await PushedImage.StartAsync(cluster, seed: 421, layerBytes: (int)MiB / 4);
        var registry = pushed.Registry;
        var broker = await cluster.StartBrokerAsync();
        var agents = await cluster.StartAgentsAsync("agent", 2, [ImageSteps.Topic]);
        await Task.WhenAll(agents.Select(a => a.WaitUntilConnectedAsync()));
        var mark = registry.Requests().Count;
        // A broker URL nothing listens on: input dfpub must refuse itself never reaches a broker (that would be exit 1).
        var nowhere = $"http://127.0.0.1:{TestCluster.ClosedPort()}";

        async Task AfterwardsNothingAsync(string what)
        {
            await ImageSteps.AssertNothingCachedAsync(agents, what);
            var jobs = await broker.PreheatJobsAsync();
            Assert.True(jobs.Count == 0, $"after {what}, the broker lists preheat jobs: {string.Join(", ", jobs)}");
            var tasks = await broker.Http.GetStringAsync("api/v1/tasks");
            Assert.True(tasks.Trim() == "[]", $"after {what}, the broker lists tasks: {tasks}");
            var blobGets = registry.Requests().Skip(mark).Where(r => r.BlobDigest is not null).ToList();
            Assert.True(blobGets.Count == 0, $"after {what}, the registry was asked for blobs: {string.Join(", ", blobGets)}");
        }

        // Unknown repository, unknown tag: the operation failed (exit 1), saying which image.
        foreach (var missing in (string[])[$"{registry.Name}/apps/missing:1.0", $"{registry.Name}/{PushedImage.Repository}:2.0"])
        {
            var result = await cluster.PreheatAsync(missing, "linux/arm64");
            CliAssert.FailedWithOneLine(result, 1);
            Assert.True(result.StderrLines[0].Contains(missing.Split('/', 2)[1], StringComparison.Ordinal),
                $"the error does not name the image {missing}:\n{result}");
            await AfterwardsNothingAsync($"preheat of the unknown image {missing}");
        }

        // A platform the image does not have: bad input (exit 2), and the line lists the ones it has.
        var platform = await cluster.PreheatAsync(pushed.Reference, "linux/s390x");
        CliAssert.FailedWithOneLine(platform, 2);
        Assert.True(platform.StderrLines[0].Contains("linux/s390x", StringComparison.Ordinal)
                && platform.StderrLines[0].Contains("linux/amd64", StringComparison.Ordinal)
                && platform.StderrLines[0].Contains("linux/arm64", StringComparison.Ordinal),
            $"the error should name the platform asked for and list the image's platforms (linux/amd64, linux/arm64):\n{platform}");
        await AfterwardsNothingAsync("preheat of an unknown platform");

        // Refused by dfpub itself, before any broker is asked.
        (string What, string Reference, string? Platform)[] usage =
        [
            ("a malformed reference (upper case repository)", $"{registry.Name}/Apps/Demo:1.0", "linux/arm64"),
            ("a malformed reference (bad digest)", $"{registry.Name}/{PushedImage.Repository}@sha256:1234", "linux/arm64"),
            ("a missing --platform", pushed.Reference, null),
            ("a malformed --platform", pushed.Reference, "arm64"),
        ];
        foreach (var (what, reference, platformFlag) in usage)
        {
            var result = await cluster.PreheatAsync(reference, platformFlag, brokerUrl: nowhere);
            CliAssert.FailedWithOneLine(result, 2);
            Assert.DoesNotContain("cannot be reached", result.Stderr, StringComparison.Ordinal);
            await AfterwardsNothingAsync(what);
        }
        var noPlatform = await cluster.PreheatAsync(pushed.Reference, null, brokerUrl: nowhere);
        Assert.True(noPlatform.StderrLines[0].Contains("--platform", StringComparison.Ordinal),
            $"the error for a missing platform should name --platform:\n{noPlatform}");
    });
}
