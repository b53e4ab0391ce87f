using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.IntegrationTests.CommandLine;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Security;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>Enrolment with join tokens, the broker-assigned peer id, and MQTT identity, on real processes.</summary>
public sealed class EnrolmentTests(ITestOutputHelper output)
{
    private const string Topic = "secure/app";

    [Fact]
    public Task Agents_EnrolWithAToken_UseTheBrokersPeerId_AndDownloadFromEachOther() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no enrolment");
            return;
        }
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscribers = await cluster.StartAgentsAsync("sub", 2, [Topic + "/#"]);

        foreach (var agent in subscribers.Append(publisher))
        {
            var tls = Path.Combine(agent.DataDir, "tls");
            using var certificate = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(tls, "agent.crt"));
            var identity = PeerIdentity.FromCertificate(certificate);
            Assert.NotNull(identity);
            Assert.Equal([PeerRole.Agent, PeerRole.Publisher], identity.Roles);
            // The certificate's CN (chosen by the broker) is the id the agent uses everywhere.
            Assert.Equal(identity.PeerId, agent.Info.PeerId);
            // The agent writes agent.json (which the harness waits for) just before it prints the line.
            await Wait.UntilAsync($"{agent.Name}'s ready line naming {identity.PeerId} and tls=on", TimeSpan.FromSeconds(10),
                () => Task.FromResult(agent.Process.StdoutHasLine(l => l.Contains($"dfagent ready peer-id={identity.PeerId} ", StringComparison.Ordinal) && l.EndsWith("tls=on", StringComparison.Ordinal))));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(tls, "agent.key")));
            }
        }

        var file = await cluster.CreateFileAsync("enrolled.bin", 24 * MiB, seed: 902);
        await cluster.PublishAsync(publisher, file, Topic + "/one");
        await cluster.WaitForFileOnAllAsync(subscribers, Topic + "/one", file);

        // A restart needs no token: the certificate in the data dir is used (same peer id).
        var first = subscribers[0];
        await first.Process.StopAsync();
        cluster.Launcher.SetEnvironment("DFAGENT_JOIN_TOKEN", null);
        var restarted = await cluster.RestartAgentAsync(first);
        Assert.Equal(first.Info.PeerId, restarted.Info.PeerId);
        var second = await cluster.CreateFileAsync("after-restart.bin", 8 * MiB, seed: 903);
        await cluster.PublishAsync(publisher, second, Topic + "/two");
        await cluster.WaitForFileOnAllAsync([restarted, subscribers[1]], Topic + "/two", second);
    });

    [Fact]
    public Task Enrolment_WithABadToken_OrNone_FailsWithOneLine() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no enrolment");
            return;
        }
        var broker = await cluster.StartBrokerAsync();
        var pin = JoinToken.PinOf(X509CertificateLoader.LoadCertificateFromFile(broker.CaFile));
        var unknown = $"dfj1.0123456789ab.{new string('A', 43)}.{pin}";
        var otherFleet = $"dfj1.0123456789ab.{new string('A', 43)}.{new string('B', 43)}";
        var common = new[] { "--broker", broker.Ports.GrpcAddress, "--mqtt", broker.Ports.MqttAddress, "--broker-http", $"127.0.0.1:{broker.Ports.Http}", "--peer-port", "0", "--http-port", "0", "--proxy-port", "0", "--listen", "127.0.0.1" };
        var noToken = new Dictionary<string, string?> { ["DFAGENT_JOIN_TOKEN"] = null };

        var refused = await cluster.RunCliAsync("dfagent", [.. common, "--data-dir", Path.Combine(cluster.Root, "a1"), "--join-token", unknown], TimeSpan.FromSeconds(60), noToken);
        CliAssert.FailedWithOneLine(refused, 1);
        Assert.Contains("401", refused.Stderr, StringComparison.Ordinal);

        var wrongCa = await cluster.RunCliAsync("dfagent", [.. common, "--data-dir", Path.Combine(cluster.Root, "a2"), "--join-token", otherFleet], TimeSpan.FromSeconds(60), noToken);
        CliAssert.FailedWithOneLine(wrongCa, 1);
        Assert.Contains("pins", wrongCa.Stderr, StringComparison.Ordinal);

        var none = await cluster.RunCliAsync("dfagent", [.. common, "--data-dir", Path.Combine(cluster.Root, "a3")], TimeSpan.FromSeconds(60), noToken);
        CliAssert.FailedWithOneLine(none, 1);
        Assert.Contains("--join-token", none.Stderr, StringComparison.Ordinal);

        var plainAgent = await cluster.RunCliAsync("dfagent", [.. common, "--data-dir", Path.Combine(cluster.Root, "a4"), "--insecure"], TimeSpan.FromSeconds(60),
            new Dictionary<string, string?> { ["DFAGENT_JOIN_TOKEN"] = null, ["DFAGENT_BROKER_HTTP"] = null });
        CliAssert.FailedWithOneLine(plainAgent, 1);
        Assert.Contains("speaks TLS", plainAgent.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(cluster.Root, "a1", "tls", "agent.crt")), "a refused enrolment must leave no certificate");
    });

    [Fact]
    public Task Mqtt_AClientIdOtherThanTheCertificatesPeerId_IsRefused() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: MQTT has no identities");
            return;
        }
        await cluster.StartBrokerAsync();
        var agent = await cluster.StartAgentAsync("victim", [Topic + "/#"]);
        var fleet = cluster.Broker.Fleet!;
        string[] connect = ["-h", "127.0.0.1", "-p", cluster.Broker.Ports.Mqtt.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "dragonfly/revoked", "-C", "1", "-W", "5"];

        // The admin's certificate with the agent's peer id as client id: a session take-over attempt.
        var takeover = await Infrastructure.Cli.RunAsync("/usr/bin/mosquitto_sub",
            [.. connect, "--cafile", fleet.CaFile, "--cert", fleet.CertFile, "--key", fleet.KeyFile, "-i", agent.Info.PeerId], TimeSpan.FromSeconds(30));
        cluster.Log($"reused id: {takeover.ExitCode} {takeover.Stderr.Trim()}");
        Assert.NotEqual(0, takeover.ExitCode);

        // No client certificate at all.
        var anonymous = await Infrastructure.Cli.RunAsync("/usr/bin/mosquitto_sub", [.. connect, "--cafile", fleet.CaFile, "-i", "anonymous"], TimeSpan.FromSeconds(30));
        cluster.Log($"no certificate: {anonymous.ExitCode} {anonymous.Stderr.Trim()}");
        Assert.NotEqual(0, anonymous.ExitCode);

        // The agent's own session was not taken over: it still gets announcements.
        var publisher = await cluster.StartAgentAsync("pub");
        var file = await cluster.CreateFileAsync("still-mine.bin", 2 * MiB, seed: 904);
        await cluster.PublishAsync(publisher, file, Topic + "/x");
        await agent.WaitForFileAsync(agent.OutputPathOf(Topic + "/x", file.Name), file, TestCluster.TransferTimeout);
    });
}
