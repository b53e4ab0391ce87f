using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>Certificates renewed during a download, and a peer revoked during one, on a real swarm.</summary>
public sealed class RenewalAndRevocationTests(ITestOutputHelper output)
{
    private const string Topic = "secure/app";

    [Fact]
    public Task Renewal_WithAOneMinuteTtl_HappensDuringADownload_WhichFinishesVerified() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no certificates to renew");
            return;
        }
        await cluster.StartBrokerAsync(extraArgs: ["--cert-ttl", "1m", "--no-seed"]);
        var publisher = await cluster.StartAgentAsync("pub");
        // About 50 s of download at 1 MiB/s: it spans the renewal at two thirds of the minute (40 s).
        var subscriber = await cluster.StartAgentAsync("sub", [Topic + "/#"], ["--download-limit", "1MiB"]);
        var certPath = Path.Combine(subscriber.DataDir, "tls", "agent.crt");
        var firstNotAfter = X509CertificateLoader.LoadCertificateFromFile(certPath).NotAfter;
        var file = await cluster.CreateFileAsync("slow.bin", 50 * MiB, seed: 905);

        await cluster.PublishAsync(publisher, file, Topic + "/slow");
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic + "/slow", file.Name), file, TimeSpan.FromMinutes(2));

        Assert.True(subscriber.Process.StdoutHasLine(l => l.Contains("renewed; valid until", StringComparison.Ordinal)),
            "the subscriber should have renewed its certificate during the download");
        var renewed = X509CertificateLoader.LoadCertificateFromFile(certPath);
        Assert.True(renewed.NotAfter > firstNotAfter, $"the certificate on disk should be the renewed one ({renewed.NotAfter:o} after {firstNotAfter:o})");
        Assert.Equal(subscriber.Info.PeerId, renewed.GetNameInfo(X509NameType.SimpleName, false));
    }, timeout: TimeSpan.FromMinutes(4));

    [Fact]
    public Task CertificateExpiredWhileOffline_AgentReenrolsWithTheToken_AndResumesWithItsPieces() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no certificates to expire");
            return;
        }
        await cluster.StartBrokerAsync(extraArgs: ["--cert-ttl", "1m", "--no-seed"]);
        var publisher = await cluster.StartAgentAsync("pub");
        var subscriber = await cluster.StartAgentAsync("sub", [Topic + "/#"], ["--download-limit", "1MiB"]);
        var certPath = Path.Combine(subscriber.DataDir, "tls", "agent.crt");
        var file = await cluster.CreateFileAsync("offline.bin", 48 * MiB, seed: 907);
        await cluster.PublishAsync(publisher, file, Topic + "/offline");

        var started = await Wait.ForAsync("the throttled subscriber to verify a few pieces", TestCluster.TransferTimeout,
            async () => await subscriber.GetTaskAsync(file.Digest) is { CompletedPieces: >= 2 } t ? t : null,
            guard: cluster.Launcher.ThrowIfAnyCrashed, describe: subscriber.DescribeTasks);
        await subscriber.Process.StopAsync();
        Assert.True(started.CompletedPieces < started.TotalPieces, $"the download finished before the agent went offline ({started})");

        // Offline past the certificate's end (a one-minute TTL; the agent renews only while it runs).
        var notAfter = X509CertificateLoader.LoadCertificateFromFile(certPath).NotAfter.ToUniversalTime();
        cluster.Log($"subscriber offline with {started.CompletedPieces}/{started.TotalPieces} pieces; its certificate ends {notAfter:o}");
        var wait = notAfter - DateTime.UtcNow + TimeSpan.FromSeconds(2);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        var back = await cluster.RestartAgentAsync(subscriber, extraArgs: []);
        await back.WaitForFileAsync(back.OutputPathOf(Topic + "/offline", file.Name), file, TestCluster.TransferTimeout);

        Assert.True(back.Process.StdoutHasLine(l => l.Contains("expired; enrolling again with the join token", StringComparison.Ordinal)),
            $"the agent should have re-enrolled because its certificate expired:\n{back.Process.Tail()}");
        Assert.True(X509CertificateLoader.LoadCertificateFromFile(certPath).NotAfter.ToUniversalTime() > notAfter,
            "the certificate on disk should be the new enrolment's");
        var resumed = back.Process.LinesWhere(l => l.Contains($"resuming {file.Digest}", StringComparison.Ordinal));
        Assert.True(resumed.Count == 1 && !resumed[0].Contains(" 0/", StringComparison.Ordinal),
            $"the agent should resume with the pieces it verified before going offline ({started.CompletedPieces}):\n{string.Join("\n", resumed)}");
    }, timeout: TimeSpan.FromMinutes(4));

    [Fact]
    public Task Revocation_MidDownload_StopsTheRevokedAgent_OthersFinishVerified() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: nothing to revoke");
            return;
        }
        cluster.AllowErrorLogs("the revoked agent reports that it is revoked");
        await cluster.StartBrokerAsync(extraArgs: ["--no-seed"]);
        var publisher = await cluster.StartAgentAsync("pub");
        var good = await cluster.StartAgentAsync("good", [Topic + "/#"], ["--download-limit", "2MiB"]);
        var revoked = await cluster.StartAgentAsync("revoked", [Topic + "/#"], ["--download-limit", "2MiB"]);
        var file = await cluster.CreateFileAsync("contested.bin", 48 * MiB, seed: 906);

        await cluster.PublishAsync(publisher, file, Topic + "/c");
        await Wait.UntilAsync("the revoked-to-be agent to hold a few pieces", TimeSpan.FromSeconds(60), async () =>
            (await revoked.GetTasksAsync()).Any(t => t.CompletedPieces >= 2));
        var revoke = await cluster.RunCliAsync("dfbroker", ["cert", "revoke", revoked.Info.PeerId, "--data-dir", cluster.Broker.DataDir]);
        Assert.True(revoke.ExitCode == 0, $"dfbroker cert revoke failed:\n{revoke}");

        await good.WaitForFileAsync(good.OutputPathOf(Topic + "/c", file.Name), file, TimeSpan.FromMinutes(2));
        var target = revoked.OutputPathOf(Topic + "/c", file.Name);
        Assert.False(File.Exists(target), "the revoked agent must not complete the file");
        // It stops: refused by the broker and by its peers, it gets no further piece.
        var before = (await revoked.GetTasksAsync()).Single().CompletedPieces;
        await Task.Delay(TimeSpan.FromSeconds(5));
        var after = (await revoked.GetTasksAsync()).Single();
        cluster.Log($"revoked agent: {before} pieces at the others' finish, {after.CompletedPieces}/{after.TotalPieces} five seconds later");
        Assert.Equal(before, after.CompletedPieces);
        Assert.True(after.CompletedPieces < after.TotalPieces, "the revoked agent must not hold the whole file");
        Assert.False(File.Exists(target), "the revoked agent must not complete the file");
        var refusals = publisher.Process.LinesWhere(l => l.Contains("refused peer connection", StringComparison.Ordinal))
            .Concat(good.Process.LinesWhere(l => l.Contains("refused peer connection", StringComparison.Ordinal))).Count();
        cluster.Log($"peer-port refusals of the revoked agent: {refusals}");
    }, timeout: TimeSpan.FromMinutes(4));
}
