using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>The piece server and fetcher talking over loopback.</summary>
public sealed class PieceProtocolTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private TestArtifact _artifact = null!;
    private TestPeer _peer = null!;
    private PieceFetcher _fetcher = null!;

    public async Task InitializeAsync()
    {
        _artifact = await TestArtifact.CreateAsync(_dir.Path, 5 * TestArtifact.SmallPiece + 100);
        _peer = await TestPeer.StartAsync("peer");
        _fetcher = new PieceFetcher(new TransferOptions { DataDir = _dir.Path }, NullLogger<PieceFetcher>.Instance);
    }

    public async Task DisposeAsync()
    {
        await _fetcher.DisposeAsync();
        await _peer.DisposeAsync();
        _dir.Dispose();
    }

    [Theory]
    [InlineData(0, 250)]
    [InlineData(7_999, 250)]
    [InlineData(8_000, 1_000)]
    [InlineData(600_000, 1_000)]
    public void MapAnswerGap_IsShortInAConnectionsFirstSeconds_ThenASecond(int sinceFirstPollMs, int gapMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(gapMs), PieceProtocol.MapAnswerGapAfter(TimeSpan.FromMilliseconds(sinceFirstPollMs)));

    [Fact]
    public async Task Fetch_OfAHeldPiece_ReturnsVerifiedBytes()
    {
        _peer.Pieces.AddComplete(_artifact.Digest, _artifact.Layout, _artifact.Path);

        for (var i = 0; i < _artifact.Layout.PieceCount; i++)
        {
            var (result, bytes) = await FetchAsync(i);
            Assert.Equal(FetchStatus.Ok, result.Status);
            Assert.Equal(_artifact.Bytes.AsSpan((int)_artifact.Layout.OffsetOf(i), _artifact.Layout.LengthOf(i)).ToArray(), bytes);
        }
        // The server counts a request after its last byte, which the client may have read already.
        await TestTimeout.UntilAsync(() => _peer.Server.RequestsServed == 6, "6 requests served");
    }

    [Fact]
    public async Task Fetch_OfUnknownContent_ReturnsMissing()
    {
        var (result, _) = await FetchAsync(0);

        Assert.Equal(FetchStatus.Missing, result.Status);
        await TestTimeout.UntilAsync(() => _peer.Server.RequestsMissing == 1, "1 request answered missing");
    }

    [Fact]
    public async Task Fetch_OfAPieceThePartialDoesNotHoldYet_ReturnsMissingUntilMarked()
    {
        var have = new PieceBitmap(_artifact.Layout.PieceCount);
        have.Set(0);
        _peer.Pieces.AddPartial(_artifact.Digest, _artifact.Layout, _artifact.Path, have);

        Assert.Equal(FetchStatus.Ok, (await FetchAsync(0)).Result.Status);
        Assert.Equal(FetchStatus.Missing, (await FetchAsync(1)).Result.Status);
        _peer.Pieces.MarkPiece(_artifact.Digest, 1);
        Assert.Equal(FetchStatus.Ok, (await FetchAsync(1)).Result.Status);
    }

    [Fact]
    public async Task Fetch_WhenBytesDoNotMatchTheDigest_ReturnsCorrupt()
    {
        _peer.Pieces.AddComplete(_artifact.Digest, _artifact.Layout, _artifact.WriteCorruptCopy(_dir.Path));

        var (result, _) = await FetchAsync(2);

        Assert.Equal(FetchStatus.Corrupt, result.Status);
        // The connection stays usable: a later good answer still comes through.
        _peer.Pieces.AddComplete(_artifact.Digest, _artifact.Layout, _artifact.Path);
        Assert.Equal(FetchStatus.Ok, (await FetchAsync(3)).Result.Status);
    }

    [Fact]
    public async Task Fetch_OfARangeASeedJustSent_ReturnsBusy()
    {
        _peer.Pieces.AddComplete(_artifact.Digest, _artifact.Layout, _artifact.Path);
        var busyBefore = AgentMetrics.PeerRefused.WithLabels("busy").Value;

        Assert.Equal(FetchStatus.Ok, (await FetchAsync(1)).Result.Status);
        Assert.Equal(FetchStatus.Busy, (await FetchAsync(1)).Result.Status);
        Assert.Equal(FetchStatus.Ok, (await FetchAsync(2)).Result.Status);
        Assert.Equal(1, _peer.Server.RequestsBusy);
        // The process-wide counter (other tests may add to it too) counts the refusal under its reason.
        Assert.True(AgentMetrics.PeerRefused.WithLabels("busy").Value >= busyBefore + 1);
    }

    [Fact]
    public async Task Fetch_FromAPartialDownload_IsNeverBusy()
    {
        var have = PieceBitmap.Full(_artifact.Layout.PieceCount);
        _peer.Pieces.AddPartial(_artifact.Digest, _artifact.Layout, _artifact.Path, have);

        Assert.Equal(FetchStatus.Ok, (await FetchAsync(1)).Result.Status);
        Assert.Equal(FetchStatus.Ok, (await FetchAsync(1)).Result.Status);
    }

    [Fact]
    public async Task Fetch_FromAClosedPort_ReturnsUnreachable()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)probe.LocalEndPoint!).Port; // bound, never listening: connections are refused

        var buffer = new byte[_artifact.Layout.LengthOf(0)];
        var result = await _fetcher.FetchAsync("127.0.0.1", port, DigestKey.From(_artifact.Digest), 0, buffer,
            _artifact.Manifest.PieceDigests[0].Memory, CancellationToken.None).AsTask().Within();

        Assert.Equal(FetchStatus.Unreachable, result.Status);
    }

    [Fact]
    public async Task Server_WithWrongMagic_ClosesTheConnection()
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(IPAddress.Loopback, _peer.Port);
        await client.SendAsync("HTTP"u8.ToArray());
        var buffer = new byte[16];

        var n = await client.ReceiveAsync(buffer).Within();

        Assert.Equal(0, n);
    }

    [Fact]
    public async Task Server_ServesByteRangesIndependentOfThePieceSize()
    {
        _peer.Pieces.AddComplete(_artifact.Digest, _artifact.Layout, _artifact.Path);
        var buffer = new byte[1000];
        var expected = SHA256.HashData(_artifact.Bytes.AsSpan(70_000, 1000));

        var result = await _fetcher.FetchAsync("127.0.0.1", _peer.Port, DigestKey.From(_artifact.Digest), 70_000, buffer,
            expected, CancellationToken.None).AsTask().Within();

        Assert.Equal(FetchStatus.Ok, result.Status);
    }

    private async Task<(FetchResult Result, byte[] Bytes)> FetchAsync(int index)
    {
        var layout = _artifact.Layout;
        var buffer = new byte[layout.LengthOf(index)];
        var result = await _fetcher.FetchAsync("127.0.0.1", _peer.Port, DigestKey.From(_artifact.Digest), layout.OffsetOf(index), buffer,
            _artifact.Manifest.PieceDigests[index].Memory, CancellationToken.None).AsTask().Within();
        return (result, buffer);
    }
}
