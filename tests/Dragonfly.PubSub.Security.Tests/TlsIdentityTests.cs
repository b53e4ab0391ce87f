using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security.Tests;

/// <summary>Real TLS 1.3 handshakes between two SslStreams over a loopback TCP connection.</summary>
public sealed class TlsIdentityTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly FleetCa _ca = FleetCa.Create("fleet");
    private readonly FleetCa _otherCa = FleetCa.Create("fleet");

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    [Theory]
    [InlineData("aes-128-gcm", TlsCipherSuite.TLS_AES_128_GCM_SHA256)]
    [InlineData("aes-256-gcm", TlsCipherSuite.TLS_AES_256_GCM_SHA384)]
    [InlineData("chacha20-poly1305", TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256)]
    [InlineData("default", TlsCipherSuite.TLS_AES_128_GCM_SHA256)]
    public async Task Handshake_MutualWithinTheFleet_NegotiatesTheChosenSuite(string choice, TlsCipherSuite expected)
    {
        Assert.True(TlsCiphers.TryParse(choice, out var ciphers, out _));
        var server = Identity(_ca, "broker", PeerRole.Broker, ciphers);
        var client = Identity(_ca, "agent-1", PeerRole.Agent, ciphers);

        var (serverSide, clientSide) = await HandshakeAsync(server.ServerOptions(true), client.ClientOptions("localhost"));

        Assert.Equal(expected, clientSide.NegotiatedCipherSuite);
        Assert.Equal(SslProtocols.Tls13, clientSide.SslProtocol);
        Assert.Equal("agent-1", server.Check(serverSide.RemoteCertificate!).Peer!.PeerId);
    }

    [Fact]
    public async Task Handshake_ClientFromAnotherCa_IsRefusedByTheServer()
    {
        var server = Identity(_ca, "broker", PeerRole.Broker);
        var stranger = Identity(_otherCa, "agent-1", PeerRole.Agent);

        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server.ServerOptions(true), stranger.ClientOptions("localhost")));
        Assert.Contains("not valid for this fleet", server.Check(stranger.Certificate).Failure);
    }

    [Fact]
    public async Task Handshake_WithoutClientCertificate_IsRefusedWhenRequired_AndAcceptedWhenOptional()
    {
        var server = Identity(_ca, "broker", PeerRole.Broker);
        var client = Identity(_ca, "agent-1", PeerRole.Agent);
        SslClientAuthenticationOptions Anonymous()
        {
            var options = client.ClientOptions("localhost");
            options.ClientCertificateContext = null;
            return options;
        }

        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server.ServerOptions(true), Anonymous()));
        var (serverSide, _) = await HandshakeAsync(server.ServerOptions(false), Anonymous());
        Assert.Null(serverSide.RemoteCertificate);
        var (optionalWithCertificate, _) = await HandshakeAsync(server.ServerOptions(false), client.ClientOptions("localhost"));
        Assert.Equal("agent-1", server.Check(optionalWithCertificate.RemoteCertificate!).Peer!.PeerId);
    }

    [Fact]
    public async Task Handshake_RevokedPeer_IsRefused()
    {
        var server = Identity(_ca, "broker", PeerRole.Broker).WithRevocation(id => id == "agent-bad");
        var revoked = Identity(_ca, "agent-bad", PeerRole.Agent);
        var fine = Identity(_ca, "agent-ok", PeerRole.Agent);

        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server.ServerOptions(true), revoked.ClientOptions("localhost")));
        await HandshakeAsync(server.ServerOptions(true), fine.ClientOptions("localhost"));
        Assert.Equal("certificate of peer 'agent-bad' is revoked", server.Check(revoked.Certificate).Failure);
    }

    [Fact]
    public async Task ClientOptions_ExpectedPeerId_RefusesAnotherPeersCertificate()
    {
        var peerA = Identity(_ca, "agent-a", PeerRole.Agent);
        var peerB = Identity(_ca, "agent-b", PeerRole.Agent);

        await HandshakeAsync(peerA.ServerOptions(true), peerB.ClientOptions("127.0.0.1", expectedPeerId: "agent-a"));
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(peerA.ServerOptions(true), peerB.ClientOptions("127.0.0.1", expectedPeerId: "agent-c")));
    }

    [Fact]
    public async Task ClientOptions_ServerCertificateWithoutTheHostName_IsRefused()
    {
        var server = Identity(_ca, "broker", PeerRole.Broker);
        var client = Identity(_ca, "agent-1", PeerRole.Agent);

        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(server.ServerOptions(true), client.ClientOptions("broker.example")));
    }

    [Fact]
    public async Task Handshake_ClientCertificateExpiredByTheServersClock_IsRefused()
    {
        var client = Identity(_ca, "agent-1", PeerRole.Agent);
        var server = Identity(_ca, "broker", PeerRole.Broker);
        var serverTwoHoursOn = new TlsIdentity([_ca.Certificate], server.Certificate, TlsCiphers.Default, time: new ShiftedTime(TimeSpan.FromHours(2)));

        await HandshakeAsync(server.ServerOptions(true), client.ClientOptions("localhost"));
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(serverTwoHoursOn.ServerOptions(true), client.ClientOptions("localhost")));
    }

    [Fact]
    public void CheckPresented_TakesTheVerdictOfAChainBuiltUnderItsOwnTrust()
    {
        var server = Identity(_ca, "broker", PeerRole.Broker);
        var client = Identity(_ca, "agent-1", PeerRole.Agent);
        using var built = ChainFor(client.Certificate, _ca, verifiedAt: DateTime.UtcNow);
        using var builtLater = ChainFor(client.Certificate, _ca, verifiedAt: DateTime.UtcNow.AddHours(2));

        Assert.Equal("agent-1", server.CheckPresented(client.Certificate, built).Peer!.PeerId);
        // The chain SslStream built says "expired"; building it again now would say valid: the verdict taken is the chain's.
        Assert.Contains("NotTimeValid", server.CheckPresented(client.Certificate, builtLater).Failure);
        Assert.True(server.Check(client.Certificate).Ok);
    }

    [Fact]
    public void CheckPresented_IgnoresAChainBuiltUnderOtherTrust_OrForAnotherCertificate()
    {
        var server = Identity(_ca, "broker", PeerRole.Broker);
        var stranger = Identity(_otherCa, "agent-x", PeerRole.Agent);
        var member = Identity(_ca, "agent-1", PeerRole.Agent);
        using var trustingTheStrangersCa = ChainFor(stranger.Certificate, _otherCa, DateTime.UtcNow);
        using var builtForTheMember = ChainFor(member.Certificate, _ca, DateTime.UtcNow);

        Assert.Contains("not valid for this fleet", server.CheckPresented(stranger.Certificate, trustingTheStrangersCa).Failure);
        Assert.Contains("not valid for this fleet", server.CheckPresented(stranger.Certificate, builtForTheMember).Failure);
        Assert.Contains("not valid for this fleet", server.CheckPresented(stranger.Certificate, chain: null).Failure);
    }

    private static X509Chain ChainFor(X509Certificate2 certificate, FleetCa anchor, DateTime verifiedAt)
    {
        var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = verifiedAt;
        chain.ChainPolicy.CustomTrustStore.Add(anchor.Certificate);
        chain.Build(certificate);
        return chain;
    }

    private sealed class ShiftedTime(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + offset;
    }

    private static TlsIdentity Identity(FleetCa ca, string peerId, PeerRole role, TlsCiphers? ciphers = null) =>
        new([ca.Certificate], ca.IssueWithNewKey(new PeerIdentity(peerId, role, []), TimeSpan.FromHours(1), ["localhost"], [IPAddress.Loopback]), ciphers ?? TlsCiphers.Default);

    private static async Task<(SslStream Server, SslStream Client)> HandshakeAsync(SslServerAuthenticationOptions serverOptions, SslClientAuthenticationOptions clientOptions)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var cts = new CancellationTokenSource(Timeout);
        var clientTcp = new TcpClient();
        await clientTcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cts.Token);
        var serverTcp = await listener.AcceptTcpClientAsync(cts.Token);
        var server = new SslStream(serverTcp.GetStream(), leaveInnerStreamOpen: false);
        var client = new SslStream(clientTcp.GetStream(), leaveInnerStreamOpen: false);
        var serverTask = server.AuthenticateAsServerAsync(serverOptions, cts.Token);
        var clientTask = client.AuthenticateAsClientAsync(clientOptions, cts.Token);
        try
        {
            // TLS 1.3: the client may finish before the server has judged its certificate; a byte each way settles it.
            await Task.WhenAll(serverTask, clientTask);
            await client.WriteAsync(new byte[] { 1 }, cts.Token);
            var buffer = new byte[1];
            Assert.Equal(1, await server.ReadAsync(buffer, cts.Token));
            await server.WriteAsync(buffer, cts.Token);
            Assert.Equal(1, await client.ReadAsync(buffer, cts.Token));
            return (server, client);
        }
        catch
        {
            server.Dispose();
            client.Dispose();
            throw;
        }
    }
}
