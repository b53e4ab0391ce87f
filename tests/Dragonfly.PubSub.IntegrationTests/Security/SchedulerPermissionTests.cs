using System.Net;
using System.Net.Security;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.IntegrationTests.BackToSource;
using Dragonfly.PubSub.IntegrationTests.CommandLine;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, attacks 1 and 2, on real processes: only the publisher role announces, only within its
/// topics; only the seed role becomes a URL task's source (a Hello{seed:true} from an agent certificate
/// is refused, and with no seed connected no agent is handed the origin).
/// </summary>
public sealed class SchedulerPermissionTests(ITestOutputHelper output)
{
    [Fact]
    public Task Dfpub_WithoutThePublisherRole_OrOutsideItsTopics_IsRefused_AndTheHonestPublishLands() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no identities, nothing is enforced (README, Security model)");
            return;
        }
        var broker = await cluster.StartBrokerAsync();
        var subscriber = await cluster.StartAgentAsync("sub", ["releases/#"]);
        var plain = await cluster.StartAgentAsync("plain", extraArgs: ["--join-token", await TestFleet.CreateTokenAsync(cluster, broker, "agent", 1)]);
        var scoped = await cluster.StartAgentAsync("scoped",
            extraArgs: ["--join-token", await TestFleet.CreateTokenAsync(cluster, broker, "agent,publisher", 1, "--topics", "releases/app")]);

        var evil = await cluster.CreateFileAsync("evil.tar", 2 * MiB, seed: 1111);
        var asAgent = await cluster.RunCliAsync("dfpub", [evil.Path, "--topic", "releases/app", "--name", "app.tar", "--data-dir", plain.DataDir]);
        CliAssert.FailedWithOneLine(asAgent, 1);
        Assert.Contains("role publisher", asAgent.Stderr, StringComparison.Ordinal);
        var byUrl = await cluster.RunCliAsync("dfpub", ["--url", "http://127.0.0.1:9/evil.tar", "--topic", "releases/app", "--data-dir", plain.DataDir]);
        CliAssert.FailedWithOneLine(byUrl, 1);
        Assert.Contains("role publisher", byUrl.Stderr, StringComparison.Ordinal);

        var other = await cluster.CreateFileAsync("other.tar", 2 * MiB, seed: 1112);
        var outside = await cluster.RunCliAsync("dfpub", [other.Path, "--topic", "releases/other", "--data-dir", scoped.DataDir]);
        CliAssert.FailedWithOneLine(outside, 1);
        Assert.Contains("may not announce on topic 'releases/other'", outside.Stderr, StringComparison.Ordinal);

        var honest = await cluster.CreateFileAsync("app.tar", 3 * MiB, seed: 1113);
        await cluster.PublishAsync(scoped, honest, "releases/app");
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf("releases/app", honest.Name), honest, TestCluster.TransferTimeout);
        Assert.Equal(["releases/app/app.tar"], Directory.EnumerateFiles(subscriber.OutputDir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(subscriber.OutputDir, f)));
        foreach (var refused in new[] { evil, other })
        {
            using var response = await broker.Http.GetAsync($"api/v1/tasks/{refused.Digest}");
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"the broker knows {refused.Name} although its publish was refused");
        }
        Assert.True((await broker.GetMetricsAsync()).Find("dragonfly_broker_permission_denied_total", ("listener", "grpc")) >= 3);
    });

    [Fact]
    public Task HelloSeed_FromAnAgentCertificate_IsRefused_AndWithoutASeedNoAgentGoesToTheOrigin() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no identities, nothing is enforced (README, Security model)");
            return;
        }
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/private.bin"), 4 * MiB, seed: 1114);
        var broker = await cluster.StartBrokerAsync(extraArgs: ["--no-seed"]);

        // An enrolled agent says it is a seed, to be handed URL tasks, their credentials and the right to vouch for their digests.
        var intruder = await EnrolAsync(broker, await TestFleet.CreateTokenAsync(cluster, broker, TestFleet.AgentRoles, 1));
        using (var channel = Channel(broker, intruder))
        {
            using var call = new Scheduler.SchedulerClient(channel).Connect(deadline: DateTime.UtcNow.AddSeconds(15));
            await call.RequestStream.WriteAsync(new PeerEvent { Hello = new Hello { PeerId = intruder.PeerId, PeerPort = 4000, Seed = true } });
            var refused = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    // A Welcome before the refusal would already be wrong; read to the status.
                }
            });
            Assert.True(refused.StatusCode == StatusCode.PermissionDenied, $"expected PermissionDenied, got {refused.StatusCode}: {refused.Status.Detail}");
            Assert.Contains("is not a seed", refused.Status.Detail, StringComparison.Ordinal);
        }

        // With no seed connected, none of the agents (role agent) is made the source: the task fails with one line.
        cluster.AllowErrorLogs("the URL task fails on purpose: no seed may fetch it");
        var agents = await cluster.StartAgentsAsync("agent", 2);
        var url = nginx.Http("files/private.bin");
        var outputs = agents.Select(a => cluster.OutputPath(a.Name, "private.bin")).ToList();
        var results = await Task.WhenAll(agents.Select((a, i) => cluster.DfgetAsync(a, url, outputs[i], "--header", "Authorization: Bearer secret")));
        for (var i = 0; i < agents.Count; i++)
        {
            UrlTasks.AssertFailedWithoutOutput(results[i], outputs[i], 1);
            Assert.True(await UrlTasks.SourceBytesAsync(agents[i]) == 0, $"{agents[i].Name} went to the origin without the seed role");
        }
        Assert.Contains("seed", results[0].Stderr, StringComparison.Ordinal);
        Assert.Equal(0, await nginx.ServedBodyBytesAsync("/files/private.bin"));
    });

    private static async Task<EnrolledCertificate> EnrolAsync(BrokerProcess broker, string text)
    {
        Assert.True(JoinToken.TryParse(text, out var token, out var error), error);
        return await EnrolmentClient.EnrollAsync("127.0.0.1", broker.Ports.Http, token, CancellationToken.None);
    }

    /// <summary>A gRPC channel to the broker that presents <paramref name="peer"/>'s certificate.</summary>
    private static GrpcChannel Channel(BrokerProcess broker, EnrolledCertificate peer)
    {
        var identity = peer.ToIdentity(TlsCiphers.Default);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            SslOptions = new SslClientAuthenticationOptions
            {
                LocalCertificateSelectionCallback = (_, _, _, _, _) => identity.Certificate,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is System.Security.Cryptography.X509Certificates.X509Certificate2 leaf && TestTls.ChainsToCa(leaf, broker.CaFile),
            },
        };
        return GrpcChannel.ForAddress($"https://{broker.Ports.GrpcAddress}", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }
}
