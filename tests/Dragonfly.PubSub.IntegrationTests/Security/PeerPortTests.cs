using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Security;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>The agents' peer port in secure mode, against real dfagent processes (nothing to check with DFIT_INSECURE=1).</summary>
public sealed partial class PeerPortTests(ITestOutputHelper output)
{
    private const string Topic = "secure/app";

    [Fact]
    public Task PeerPort_RefusesPlainTextAndForeignCertificates_ServesTheFleet() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: the peer port speaks plain text by design; nothing to refuse");
            return;
        }
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var file = await cluster.CreateFileAsync("secret.bin", 4 * MiB, seed: 901);
        await cluster.PublishAsync(publisher, file, Topic);
        var request = PeerWire.Request(file.Sha256Hex, (int)MiB);

        // The piece request in clear: at most a TLS alert comes back, never a response header or bytes.
        var plain = await PeerWire.PlainAsync(publisher.Info.PeerPort, request);
        Assert.True(plain.Length < 64, $"a plain-text client got {plain.Length} bytes from the TLS peer port");
        Assert.True(plain.Length == 0 || plain[0] == 0x15, $"the answer to plain text should be a TLS alert or nothing, got {Convert.ToHexString(plain)}");

        // TLS with a certificate of another CA (same kind of identity, wrong fleet): refused.
        using var intruderCa = FleetCa.Create("intruder CA");
        using var intruder = intruderCa.IssueWithNewKey(new PeerIdentity("agent-000000000000", PeerRole.Agent, []), TimeSpan.FromHours(1));
        var foreign = await PeerWire.TlsAsync(publisher.Info.PeerPort, intruder, request);
        Assert.True(foreign is null, $"a client of another CA got {foreign?.Length} bytes");

        // A member of the fleet that is not a member of the task is answered "forbidden" (5) and gets no byte (issue 11).
        var outsider = await PeerWire.TlsAsync(publisher.Info.PeerPort, cluster.Broker.Fleet!.Identity.Certificate, request);
        Assert.True(outsider is [5, 0, 0, 0, 0], $"a fleet member without a ticket should get status 5 and nothing else, got {outsider?.Length} bytes");

        // With the ticket the scheduler gave it when it joined the task, it gets the verified bytes on the same port.
        var ticket = await SchedulerTicket.JoinAsync(cluster.Broker, file.Digest);
        var member = await PeerWire.TlsAsync(publisher.Info.PeerPort, cluster.Broker.Fleet!.Identity.Certificate,
            PeerWire.RequestWithTicket(file.Sha256Hex, (int)MiB, ticket));
        Assert.NotNull(member);
        Assert.Equal(5 + MiB, member.Length);
        Assert.Equal(0, member[0]);
        var original = await File.ReadAllBytesAsync(file.Path);
        Assert.Equal(SHA256.HashData(original.AsSpan(0, (int)MiB)), SHA256.HashData(member.AsSpan(5)));

        // Each refusal is counted in the agent's log.
        await Wait.UntilAsync("two refusals in the publisher's log", TimeSpan.FromSeconds(10), () => Task.FromResult(
            publisher.Process.LinesWhere(l => l.Contains("refused peer connection", StringComparison.Ordinal)).Count == 2));
        cluster.Log(string.Join('\n', publisher.Process.LinesWhere(l => l.Contains("refused peer connection", StringComparison.Ordinal))));
    });

    [Theory]
    [InlineData("aes-128-gcm", "TLS_AES_128_GCM_SHA256")]
    [InlineData("aes-256-gcm", "TLS_AES_256_GCM_SHA384")]
    [InlineData("chacha20-poly1305", "TLS_CHACHA20_POLY1305_SHA256")]
    public Task OpensslSClient_ShowsTheSuiteChosenWithTlsCiphers(string ciphers, string suite) => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no TLS on the peer port");
            return;
        }
        await cluster.StartBrokerAsync();
        var agent = await cluster.StartAgentAsync("agent", extraArgs: ["--tls-ciphers", ciphers]);
        var fleet = cluster.Broker.Fleet!;

        // The client offers all three suites: the agent's --tls-ciphers decides.
        var result = await Infrastructure.Cli.RunAsync("/usr/bin/openssl",
            ["s_client", "-connect", $"127.0.0.1:{agent.Info.PeerPort}", "-tls1_3",
             "-ciphersuites", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
             "-cert", fleet.CertFile, "-key", fleet.KeyFile, "-CAfile", fleet.CaFile, "-verify_return_error"],
            TimeSpan.FromSeconds(30));
        cluster.Log($"openssl s_client: {string.Join(" | ", result.Stdout.Split('\n').Where(l => l.Contains("Cipher", StringComparison.Ordinal)))}");

        var negotiated = CipherLine().Match(result.Stdout);
        Assert.True(negotiated.Success, $"openssl s_client printed no cipher:\n{result}");
        Assert.Equal(suite, negotiated.Groups[1].Value);
        Assert.Contains("Verify return code: 0 (ok)", result.Stdout, StringComparison.Ordinal);
    });

    [GeneratedRegex(@"Cipher is (\S+)")]
    private static partial Regex CipherLine();
}
