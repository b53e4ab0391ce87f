using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// The peer port in TLS 1.3 with fleet certificates on both sides: who is let in, who is refused,
/// and that refused parties get no bytes.
/// </summary>
public class PieceProtocolTlsTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private readonly FleetCa _ca = FleetCa.Create("test fleet");
    private readonly FleetCa _foreignCa = FleetCa.Create("another fleet");
    private readonly HashSet<string> _revoked = [];
    private TestArtifact _artifact = null!;
    private LocalPieces _pieces = null!;
    private PieceServer _server = null!;
    private int _port;

    public async Task InitializeAsync()
    {
        _artifact = await TestArtifact.CreateAsync(_dir.Path, 3 * TestArtifact.SmallPiece + 100);
        _pieces = new LocalPieces();
        _pieces.AddComplete(_artifact.Digest, _artifact.Layout, _artifact.Path);
        _server = new PieceServer(_pieces, new TransferOptions { DataDir = _dir.Path }, Tls(_ca, "agent-server"), NullLogger<PieceServer>.Instance);
        _port = await _server.StartAsync(IPAddress.Loopback, 0, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _ca.Dispose();
        _foreignCa.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Fetch_BetweenFleetMembers_ReturnsVerifiedBytes()
    {
        await using var fetcher = Fetcher(Tls(_ca, "agent-client"));

        for (var i = 0; i < _artifact.Layout.PieceCount; i++)
        {
            var (result, bytes) = await FetchAsync(fetcher, i, "agent-server");
            Assert.Equal(FetchStatus.Ok, result.Status);
            Assert.Equal(_artifact.Bytes.AsSpan((int)_artifact.Layout.OffsetOf(i), _artifact.Layout.LengthOf(i)).ToArray(), bytes);
        }
        // The server counts a request after its last byte is written, which may be just after the
        // client has read it: wait for the count (bounded).
        await TestTimeout.UntilAsync(() => _server.RequestsServed == 4, "4 requests served");
        Assert.Equal(0, _server.ConnectionsRefused);
    }

    [Theory]
    [InlineData("aes-128-gcm", TlsCipherSuite.TLS_AES_128_GCM_SHA256)]
    [InlineData("aes-256-gcm", TlsCipherSuite.TLS_AES_256_GCM_SHA384)]
    [InlineData("chacha20-poly1305", TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256)]
    public async Task Handshake_NegotiatesTheChosenSuite(string name, TlsCipherSuite expected)
    {
        Assert.True(TlsCiphers.TryParse(name, out var ciphers, out _));
        await using var server = new PieceServer(_pieces, new TransferOptions { DataDir = _dir.Path }, Tls(_ca, "agent-server", ciphers), NullLogger<PieceServer>.Instance);
        var port = await server.StartAsync(IPAddress.Loopback, 0, CancellationToken.None);
        // The client offers all three suites: the server's choice decides.
        Assert.True(TlsCiphers.TryParse("aes-128-gcm,aes-256-gcm,chacha20-poly1305", out var any, out _));
        using var client = await ConnectTlsAsync(port, Identity(_ca, "agent-client", any).ClientOptions("agent-server", "agent-server"));

        Assert.Equal(expected, client.NegotiatedCipherSuite);
    }

    [Fact]
    public async Task Fetch_FromAParentWhoseCertificateNamesAnotherPeer_IsRefused()
    {
        await using var fetcher = Fetcher(Tls(_ca, "agent-client"));

        var (result, bytes) = await FetchAsync(fetcher, 0, "agent-someone-else");

        Assert.Equal(FetchStatus.Unreachable, result.Status);
        Assert.All(bytes, b => Assert.Equal(0, b));
        Assert.Equal(0, _server.RequestsServed);
    }

    [Fact]
    public async Task Server_RefusesAClientSpeakingThePlainProtocol()
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, _port);
        var request = new byte[PieceProtocol.MagicLength + PieceProtocol.RequestLength];
        PieceProtocol.Magic.CopyTo(request);
        PieceProtocol.WriteRequest(request.AsSpan(PieceProtocol.MagicLength), DigestKey.From(_artifact.Digest), 0, _artifact.Layout.LengthOf(0));
        await client.SendAsync(request);

        var received = await ReceiveAllAsync(client).Within();

        // At most a TLS alert comes back, never a piece.
        Assert.True(received < 64, $"a plaintext client got {received} bytes back");
        await TestTimeout.UntilAsync(() => _server.ConnectionsRefused == 1, "one connection refused");
        Assert.Equal(0, _server.RequestsServed);
    }

    [Fact]
    public async Task Server_RefusesAClientOfAnotherCa()
    {
        await using var fetcher = Fetcher(Tls(_foreignCa, "agent-client", trustAlso: _ca));

        var (result, _) = await FetchAsync(fetcher, 0, "agent-server");

        Assert.NotEqual(FetchStatus.Ok, result.Status);
        await TestTimeout.UntilAsync(() => _server.ConnectionsRefused == 1, "one connection refused");
        Assert.Equal(0, _server.RequestsServed);
    }

    [Fact]
    public async Task Server_RefusesARevokedClient_AlsoOnAConnectionOpenedBefore()
    {
        await using var fetcher = Fetcher(Tls(_ca, "agent-client"));
        Assert.Equal(FetchStatus.Ok, (await FetchAsync(fetcher, 0, "agent-server")).Result.Status);

        _revoked.Add("agent-client");
        var (pooled, _) = await FetchAsync(fetcher, 1, "agent-server");
        await using var fresh = Fetcher(Tls(_ca, "agent-client"));
        var (newConnection, _) = await FetchAsync(fresh, 1, "agent-server");

        Assert.NotEqual(FetchStatus.Ok, pooled.Status);
        Assert.NotEqual(FetchStatus.Ok, newConnection.Status);
        await TestTimeout.UntilAsync(() => _server.RequestsServed == 1, "the one request before the revocation counted as served");
        Assert.True(_server.ConnectionsRefused >= 2, $"refused {_server.ConnectionsRefused}");
    }

    [Fact]
    public async Task Fetcher_DoesNotDialARevokedParent()
    {
        _revoked.Add("agent-server");
        await using var fetcher = Fetcher(Tls(_ca, "agent-client"));

        var (result, _) = await FetchAsync(fetcher, 0, "agent-server");

        Assert.Equal(FetchStatus.Unreachable, result.Status);
        Assert.Equal(0, _server.RequestsServed);
    }

    /// <summary>The bulk channel after the handshake (both ends offer it); off: TLS records, as with an older agent.</summary>
    protected virtual bool BulkChannel => true;

    private PeerTls Tls(FleetCa ca, string peerId, TlsCiphers? ciphers = null, FleetCa? trustAlso = null) =>
        TestPeerTls.Create(ca, peerId, _revoked, ciphers, trustAlso, BulkChannel);

    private TlsIdentity Identity(FleetCa ca, string peerId, TlsCiphers ciphers, FleetCa? trustAlso = null) =>
        TestPeerTls.Identity(ca, peerId, _revoked, ciphers, trustAlso);

    private PieceFetcher Fetcher(PeerTls tls) => new(new TransferOptions { DataDir = _dir.Path }, tls, NullLogger<PieceFetcher>.Instance);

    private async Task<(FetchResult Result, byte[] Bytes)> FetchAsync(PieceFetcher fetcher, int index, string parentId)
    {
        var layout = _artifact.Layout;
        var buffer = new byte[layout.LengthOf(index)];
        var result = await fetcher.FetchAsync("127.0.0.1", _port, DigestKey.From(_artifact.Digest), layout.OffsetOf(index), buffer,
            _artifact.Manifest.PieceDigests[index].Memory, CancellationToken.None, peerId: parentId).AsTask().Within();
        return (result, buffer);
    }

    private static async Task<SslStream> ConnectTlsAsync(int port, SslClientAuthenticationOptions options)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(options).WaitAsync(TimeSpan.FromSeconds(10));
        return ssl;
    }

    /// <summary>Bytes received until the server closes the connection.</summary>
    private static async Task<int> ReceiveAllAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        var total = 0;
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer)) > 0)
            {
                total += n;
            }
        }
        catch (SocketException)
        {
            // Reset by the server: refused.
        }
        return total;
    }
}

/// <summary>The same checks with TLS records for the whole connection: what an agent without the bulk channel speaks.</summary>
public sealed class PieceProtocolTlsRecordsTests : PieceProtocolTlsTests
{
    protected override bool BulkChannel => false;
}
