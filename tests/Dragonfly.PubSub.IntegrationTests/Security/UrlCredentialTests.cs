using Dragonfly.PubSub.IntegrationTests.BackToSource;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, attack 4 (second half), against a real nginx that checks a presigned URL's signature:
/// someone with a bad signature cannot attach to the task of someone with a good one. Applies with
/// <c>DFIT_INSECURE=1</c> too: the broker checks the credentials, not the identities.
/// </summary>
public sealed class UrlCredentialTests(ITestOutputHelper output)
{
    [Fact]
    public Task PresignedUrl_WithABadSignature_FailsAtTheOrigin_AndNeverGetsTheGoodOnesPieces() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("signed/app.bin"), 12 * MiB + 17, seed: 1210);
        await cluster.StartBrokerAsync();
        var honest = await cluster.StartAgentAsync("honest");
        var intruder = await cluster.StartAgentAsync("intruder");

        // nginx serves /signed/ only with ?Signature=good; Signature is a presigned-URL parameter left out of task ids.
        var good = new Uri(nginx.Http("signed/app.bin") + "?Signature=good");
        var goodOutput = cluster.OutputPath("honest", "app.bin");
        var fetched = await cluster.DfgetAsync(honest, good, goodOutput, "--json");
        await UrlTasks.AssertDownloadedAsync(fetched, goodOutput, file);
        var taskId = UrlTasks.JsonDigest(fetched);

        // The same object with a forged signature while the good task is live: the broker asks the origin
        // with the intruder's own URL, which refuses it; the task and its pieces stay out of reach.
        var bad = new Uri(nginx.Http("signed/app.bin") + "?Signature=forged");
        var badOutput = cluster.OutputPath("intruder", "app.bin");
        var refused = await cluster.DfgetAsync(intruder, bad, badOutput);
        UrlTasks.AssertFailedWithoutOutput(refused, badOutput, 1);
        Assert.Contains("403", refused.Stderr, StringComparison.Ordinal);

        Assert.Contains(nginx.Requests("/signed/app.bin"), e => e.Status == 403);
        Assert.DoesNotContain(await intruder.GetTasksAsync(), t => t.Digest == taskId);
        var intruderBytes = (await intruder.GetMetricsAsync()).Find(UrlTasks.AgentDownloadBytes, ("source", "peer")) ?? 0;
        Assert.True(intruderBytes == 0, $"the intruder received {intruderBytes} bytes from peers");
        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/signed/app.bin"), file.Size);

        // Nor can a fleet member join the task by its id (computable from the URL without the signature) to get
        // the ticket that opens the members' peer ports: the scheduler refuses it (secure mode; no identities otherwise).
        if (!TlsMode.Insecure)
        {
            var answer = await SchedulerTicket.FirstAnswerAsync(cluster.Broker, taskId);
            Assert.True(answer.EventCase == Contracts.Scheduler.SchedulerEvent.EventOneofCase.TaskFailed, $"a join without registering got {answer}");
            Assert.Contains("registered with credentials", answer.TaskFailed.Error, StringComparison.Ordinal);
        }

        // After a broker restart the live task is gone, its stored manifest remembers that it needed credentials
        // (never which): a bare join by id is still refused, and a registration is checked at the origin again.
        await cluster.Broker.Process.StopAsync();
        await cluster.RestartBrokerAsync();
        await Task.WhenAll(WaitForSchedulerAsync(honest), WaitForSchedulerAsync(intruder));
        if (!TlsMode.Insecure)
        {
            var answer = await SchedulerTicket.FirstAnswerAsync(cluster.Broker, taskId);
            Assert.True(answer.EventCase == Contracts.Scheduler.SchedulerEvent.EventOneofCase.TaskFailed, $"a join by id after the restart got {answer}");
            Assert.Contains("registered with credentials", answer.TaskFailed.Error, StringComparison.Ordinal);
        }
        var afterRestart = cluster.OutputPath("intruder", "again.bin");
        var refusedAgain = await cluster.DfgetAsync(intruder, bad, afterRestart);
        UrlTasks.AssertFailedWithoutOutput(refusedAgain, afterRestart, 1);
        Assert.Contains("403", refusedAgain.Stderr, StringComparison.Ordinal);
        var honestAgain = cluster.OutputPath("honest", "again.bin");
        await UrlTasks.AssertDownloadedAsync(await cluster.DfgetAsync(honest, good, honestAgain, "--json"), honestAgain, file);
        Assert.True((await nginx.RequestsAsync("/signed/app.bin", 0)).Count(e => e.Status == 403) >= 2, "the origin should have refused the forged signature again after the restart");
    });

    /// <summary>Until the agent is connected to the (restarted) broker's scheduler again.</summary>
    private static Task WaitForSchedulerAsync(AgentProcess agent) =>
        Wait.UntilAsync($"{agent.Name} to reconnect to the scheduler", TimeSpan.FromSeconds(60), async () =>
        {
            using var status = System.Text.Json.JsonDocument.Parse(await agent.Http.GetStringAsync("api/v1/status"));
            return status.RootElement.GetProperty("brokerConnected").GetBoolean();
        }, agent.ThrowIfCrashed);
}
