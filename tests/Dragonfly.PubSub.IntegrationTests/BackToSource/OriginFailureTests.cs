using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.BackToSource;

/// <summary>
/// An origin that fails: one clear line and exit code 1 after a bounded number of attempts, never a
/// partial output file, and a later request for the same URL starts afresh. Bounds are counts the
/// processes report (attempts, requests), not wall-clock times, which a busy machine stretches.
/// </summary>
public sealed class OriginFailureTests(ITestOutputHelper output)
{
    [Fact]
    public Task Dfget_OriginDiesMidTransfer_Exits1WithOneLineAfterBoundedRetries_NoOutput_ThenSucceedsWhenItIsBack() => TestCluster.RunAsync(output, async cluster =>
    {
        // 32 KiB/s from each request's first byte (nginx lets the first second's worth out at once): the seed reads
        // 8 of the file's 32 pieces (256 KiB) at once, each for ~7 s, so the transfer is still running when nginx dies.
        var nginx = cluster.Own(await NginxServer.StartAsync(slowRate: "32k", slowAfter: "0"));
        var file = await TestFile.CreateAsync(nginx.WwwPath("slow/dies.bin"), 8 * MiB, seed: 321);
        await cluster.StartBrokerAsync();
        var agent = await cluster.StartAgentAsync("agent");
        cluster.AllowErrorLogs("the origin is killed mid-transfer: the seed and the agent may log the failed fetches");

        var url = nginx.Http("slow/dies.bin");
        var target = cluster.OutputPath("dies", "dies.bin");
        // A hang guard only: the bound on the retries is the attempt count checked below.
        var running = cluster.DfgetAsync(agent, url, target, TimeSpan.FromSeconds(150));
        await Wait.UntilAsync("nginx to send the file's first bytes", TimeSpan.FromSeconds(60),
            async () => running.IsCompleted || await nginx.WritingResponsesAsync() > 0);
        Assert.False(running.IsCompleted, $"dfget ended before the origin could be killed:\n{(running.IsCompletedSuccessfully ? running.Result : null)}");
        // nginx is writing the body now (each range at 32 KiB/s after its first 256 KiB): the kill lands mid-transfer.
        nginx.Kill();
        cluster.Log("killed nginx mid-transfer");

        var failed = await running;
        UrlTasks.AssertFailedWithoutOutput(failed, target, 1);
        var line = failed.StderrLines[0];
        Assert.True(line.Contains("origin", StringComparison.OrdinalIgnoreCase) || line.Contains("dies.bin", StringComparison.Ordinal)
                || line.Contains(nginx.HttpPort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal),
            $"the error line should say that the origin failed (name it or the URL): {line}");
        // Retries are bounded: the error says how many attempts were made, at most the default policy's 5
        // (OriginRetryPolicy.MaxAttempts), which also caps their time (MaxElapsed) whatever the machine's load.
        var attempts = Regex.Match(line, @"gave up after (\d+) attempts?");
        Assert.True(attempts.Success, $"the error line should say after how many attempts it gave up: {line}");
        Assert.InRange(int.Parse(attempts.Groups[1].Value, CultureInfo.InvariantCulture), 1, 5);
        // The task JSON says why as data too, carried from the seed through the scheduler (SourceFailed.kind, TaskFailed.kind).
        var task = Assert.Single(await agent.GetTasksAsync(), t => t.State == "failed");
        Assert.Equal("unavailable", task.ErrorKind);

        // The origin is back: the failed task was forgotten, and the same URL now downloads.
        nginx.SlowRate = null;
        await nginx.RestartAsync();
        var retried = cluster.OutputPath("back", "dies.bin");
        await UrlTasks.AssertDownloadedAsync(await cluster.DfgetAsync(agent, url, retried), retried, file);
    });

    [Fact]
    public Task Dfget_UrlIs404_Exits1AtOnceWithOneLineNaming404_NoOutput() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        await cluster.StartBrokerAsync();
        var agent = await cluster.StartAgentAsync("agent");

        var target = cluster.OutputPath("missing", "missing.bin");
        var result = await cluster.DfgetAsync(agent, nginx.Http("files/missing.bin"), target);

        UrlTasks.AssertFailedWithoutOutput(result, target, 1);
        Assert.True(result.StderrLines[0].Contains("404", StringComparison.Ordinal), $"the error line should name the 404:\n{result}");
        // A permanent error is not retried (counted, not timed): nginx was asked once, and nobody logged a retry.
        var requests = await nginx.RequestsAsync("/files/missing.bin", atLeast: 1);
        Assert.True(requests.Count is >= 1 and <= 2,
            $"a 404 should be asked once (a HEAD, maybe one GET probe), not retried; nginx logged {requests.Count}: {string.Join(", ", requests)}");
        var retries = cluster.Broker.Process.LinesWhere(IsRetryOfMissing).Concat(agent.Process.LinesWhere(IsRetryOfMissing)).ToList();
        Assert.True(retries.Count == 0, $"a 404 must not be retried; logged: {string.Join(" | ", retries)}");

        static bool IsRetryOfMissing(string line) => line.Contains("missing.bin", StringComparison.Ordinal) && line.Contains("retrying in", StringComparison.Ordinal);
    });

    [Fact]
    public Task Dfget_WrongDigest_Exits1WithoutOutput_RightDigestThenSucceeds() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/checked.bin"), 6 * MiB + 99, seed: 322);
        await cluster.StartBrokerAsync();
        var agent = await cluster.StartAgentAsync("agent");
        cluster.AllowErrorLogs("a task failed by a wrong --digest is logged as a failed task by the seed and the agent");
        var url = nginx.Http("files/checked.bin");

        var wrongDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData("not the content of checked.bin"u8));
        var wrongTarget = cluster.OutputPath("wrong", "checked.bin");
        var wrong = await cluster.DfgetAsync(agent, url, wrongTarget, "--digest", wrongDigest);
        UrlTasks.AssertFailedWithoutOutput(wrong, wrongTarget, 1);
        Assert.True(wrong.StderrLines[0].Contains(wrongDigest[..19], StringComparison.Ordinal),
            $"the error line should name the --digest that did not match ({wrongDigest}):\n{wrong}");

        // The failed task is forgotten: the same URL with the right digest is fetched afresh and verified.
        var rightTarget = cluster.OutputPath("right", "checked.bin");
        var right = await cluster.DfgetAsync(agent, url, rightTarget, "--digest", file.Digest);
        await UrlTasks.AssertDownloadedAsync(right, rightTarget, file);
    });
}
