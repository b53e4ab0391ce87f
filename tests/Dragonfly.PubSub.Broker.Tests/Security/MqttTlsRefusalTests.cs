using System.Diagnostics;
using Dragonfly.PubSub.Broker.Tests.Support;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Security;

/// <summary>
/// Real mosquitto_sub clients against the secure broker's MQTT-over-TLS listener. The broker keeps a
/// retained message on <c>dragonfly/revoked</c>: an accepted client receives it at once, so a refused
/// client that prints nothing really got nothing.
/// </summary>
public sealed class MqttTlsRefusalTests : IAsyncLifetime
{
    private InProcessBroker _broker = null!;
    private string _files = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        _files = Directory.CreateTempSubdirectory("dfmqtts-").FullName;
        _broker = await InProcessBroker.StartAsync("mqtts", seed: false, secure: true);
        _port = _broker.ReadyInfo.GetProperty("mqttsPort").GetInt32();
        Assert.Equal(0, _broker.ReadyInfo.GetProperty("mqttPort").GetInt32());
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        TempDirectory.Delete(_files);
    }

    [Fact]
    public async Task MosquittoSub_IsRefused_WithoutCertificate_WithForeignCa_Revoked_OrWithAnotherClientId()
    {
        using var good = await EnrolledPeer.EnrollAsync(_broker, await BrokerCommand.CreateTokenAsync(_broker.DataDir, "agent", 2), _files);
        using var doomed = await EnrolledPeer.EnrollAsync(_broker, await BrokerCommand.CreateTokenAsync(_broker.DataDir), _files);
        var (foreignCert, foreignKey) = ForeignCertificate(good.PeerId);
        Assert.Equal(0, (await BrokerCommand.RunAsync("cert", "revoke", doomed.PeerId, "--data-dir", _broker.DataDir)).ExitCode);

        // The control: a valid certificate with its own peer id as client id gets the retained list.
        var accepted = await SubscribeAsync("--cafile", good.CaFile, "--cert", good.CertFile, "--key", good.KeyFile, "-i", good.PeerId);
        Assert.True(accepted.ExitCode == 0, accepted.Output);
        Assert.Equal($"dragonfly/revoked [\"{doomed.PeerId}\"]", accepted.Stdout.Trim());

        ProcessResult[] refused =
        [
            await SubscribeAsync("--cafile", good.CaFile, "-i", good.PeerId),
            await SubscribeAsync("--cafile", good.CaFile, "--cert", foreignCert, "--key", foreignKey, "-i", good.PeerId),
            await SubscribeAsync("--cafile", good.CaFile, "--cert", doomed.CertFile, "--key", doomed.KeyFile, "-i", doomed.PeerId),
            await SubscribeAsync("--cafile", good.CaFile, "--cert", good.CertFile, "--key", good.KeyFile, "-i", "someone-else"),
            await SubscribeAsync("--cafile", good.CaFile, "--cert", good.CertFile, "--key", good.KeyFile),
        ];

        Assert.All(refused, r => Assert.True(r.ExitCode != 0 && r.Stdout.Length == 0, r.Output));
        Assert.Equal(5, refused.Length);
        Assert.Contains("identifier rejected", refused[3].Stderr);
        Assert.Contains("identifier rejected", refused[4].Stderr);
    }

    [Fact]
    public async Task AFleetMember_CannotRewriteTheRevocationList()
    {
        using var member = await EnrolledPeer.EnrollAsync(_broker, await BrokerCommand.CreateTokenAsync(_broker.DataDir), _files);
        using var victim = await EnrolledPeer.EnrollAsync(_broker, await BrokerCommand.CreateTokenAsync(_broker.DataDir), _files);
        string[] tls = ["--cafile", member.CaFile, "--cert", member.CertFile, "--key", member.KeyFile, "-i", member.PeerId];

        // A valid agent certificate tries to revoke another peer fleet-wide (agents would refuse it and it would stop itself).
        await ProcessRunner.RunAsync("mosquitto_pub", Args([.. tls, "-t", "dragonfly/revoked", "-r", "-q", "1", "-m", $"[\"{victim.PeerId}\"]"]),
            timeout: TimeSpan.FromSeconds(30));

        // Only the broker's own list stands.
        var seen = await SubscribeAsync([.. tls]);
        Assert.True(seen.ExitCode == 0, seen.Output);
        Assert.Equal("dragonfly/revoked []", seen.Stdout.Trim());
    }

    [Fact]
    public async Task PlaintextClient_OnTheTlsPort_IsRefused_AndTheBrokerStaysHealthy()
    {
        var plain = await SubscribeAsync("-i", "plain");

        Assert.NotEqual(0, plain.ExitCode);
        Assert.Empty(plain.Stdout);
        var metrics = await _broker.Http.GetStringAsync("metrics");
        Assert.Contains("dragonfly_broker_tls_refused_total{listener=\"mqtt\"}", metrics);
        Assert.Contains("\"status\":\"ok\"", await _broker.Http.GetStringAsync("healthz"));
    }

    [Fact]
    public async Task RevokingAConnectedPeer_ClosesItsSession()
    {
        using var peer = await EnrolledPeer.EnrollAsync(_broker, await BrokerCommand.CreateTokenAsync(_broker.DataDir), _files);
        var start = new ProcessStartInfo("mosquitto_sub") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in Args("--cafile", peer.CaFile, "--cert", peer.CertFile, "--key", peer.KeyFile, "-i", peer.PeerId, "-t", "dragonfly/#", "-v"))
        {
            start.ArgumentList.Add(arg);
        }
        using var listening = Process.Start(start)!;
        listening.StandardInput.Close();
        var errors = listening.StandardError.ReadToEndAsync(); // read, so that a chatty stderr cannot block it
        try
        {
            // Connected and subscribed once the retained list arrives (a fixed sleep here failed on a busy machine).
            var first = await listening.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("dragonfly/revoked []", first);

            Assert.Equal(0, (await BrokerCommand.RunAsync("cert", "revoke", peer.PeerId, "--data-dir", _broker.DataDir)).ExitCode);

            // Without a revocation mosquitto_sub would run on; the cut ends it, and nothing else was delivered.
            await listening.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual(0, listening.ExitCode);
            Assert.True((await listening.StandardOutput.ReadToEndAsync()).Trim().Length == 0, await errors);
        }
        finally
        {
            if (!listening.HasExited)
            {
                listening.Kill();
            }
        }
    }

    private Task<ProcessResult> SubscribeAsync(params string[] args) =>
        ProcessRunner.RunAsync("mosquitto_sub", Args([.. args, "-t", "dragonfly/#", "-v", "-C", "1", "-W", "5"]), timeout: TimeSpan.FromSeconds(30));

    private string[] Args(params string[] args) => ["-h", "127.0.0.1", "-p", _port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args];

    /// <summary>A well-formed Dragonfly certificate with the same peer id, from a CA the broker does not trust.</summary>
    private (string Cert, string Key) ForeignCertificate(string peerId)
    {
        using var ca = FleetCa.Create("Dragonfly fleet CA impostor");
        using var certificate = ca.IssueWithNewKey(new PeerIdentity(peerId, PeerRole.Agent, []), TimeSpan.FromHours(1));
        var cert = Path.Combine(_files, "foreign.crt");
        var key = Path.Combine(_files, "foreign.key");
        TlsFiles.WriteCertificateAndKey(certificate, cert, key);
        return (cert, key);
    }
}
