using System.Net;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// Several piece requests to one parent share one connection (one TLS handshake), answered in order; a request
/// given up before its answer comes leaves the connection usable, one given up halfway through breaks it and the
/// requests behind it go again on a new one.
/// </summary>
public sealed class PieceFetcherPipeliningTests : IAsyncLifetime
{
    private const int Pieces = 6;
    private readonly TempDirectory _dir = new();
    private readonly FleetCa _ca = FleetCa.Create("test fleet");
    private readonly HashSet<string> _revoked = [];
    private TestArtifact _artifact = null!;

    public async Task InitializeAsync() =>
        _artifact = await TestArtifact.CreateAsync(_dir.Path, (Pieces - 1) * TestArtifact.SmallPiece + 100);

    public Task DisposeAsync()
    {
        _ca.Dispose();
        _dir.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task RequestsInFlightToOneParent_ShareOneTlsConnection_AndEachGetsItsOwnPiece()
    {
        await using var server = await StartServerAsync(TestPeerTls.Create(_ca, "agent-server", _revoked));
        await using var fetcher = Fetcher(TestPeerTls.Create(_ca, "agent-client", _revoked));

        // As the picker asks a parent: three pieces at a time.
        var first = await Task.WhenAll(Enumerable.Range(0, PiecePicker.DefaultParentLimit).Select(i => FetchAsync(fetcher, server, i)));
        var rest = await Task.WhenAll(Enumerable.Range(PiecePicker.DefaultParentLimit, Pieces - PiecePicker.DefaultParentLimit).Select(i => FetchAsync(fetcher, server, i)));

        foreach (var (index, result, bytes) in first.Concat(rest))
        {
            Assert.Equal(FetchStatus.Ok, result.Status);
            Assert.Equal(Expected(index), bytes);
        }
        Assert.Equal(1, fetcher.ConnectionsOpened);
        Assert.Equal(Pieces, fetcher.RequestsWritten);
        await TestTimeout.UntilAsync(() => server.RequestsServed == Pieces, $"{Pieces} requests served");
        Assert.Equal(1, server.ConnectionsAccepted);
    }

    [Fact]
    public async Task MoreRequestsThanOneConnectionCarries_OpenAnother()
    {
        // Slow answers (256 KiB/s), so that none is done before all six have found a connection.
        await using var server = await StartServerAsync(tls: null, uploadLimit: 256 * 1024);
        await using var fetcher = Fetcher(tls: null);

        var results = await Task.WhenAll(Enumerable.Range(0, Pieces).Select(i => FetchAsync(fetcher, server, i)));

        Assert.All(results, r => Assert.Equal(FetchStatus.Ok, r.Result.Status));
        Assert.All(results, r => Assert.Equal(Expected(r.Index), r.Bytes));
        // Six at once: four on the first connection (PieceFetcher.MaxPipelined), the rest on a second.
        Assert.Equal(2, fetcher.ConnectionsOpened);
        Assert.Equal(2, server.ConnectionsAccepted);
    }

    [Fact]
    public async Task ARequestGivenUpBeforeItsAnswer_HasItsAnswerDropped_AndTheConnectionCarriesOn()
    {
        // A slow parent (64 KiB pieces at 256 KiB/s): the first answer takes a quarter of a second.
        await using var server = await StartServerAsync(tls: null, uploadLimit: 256 * 1024);
        await using var fetcher = Fetcher(tls: null);
        using var giveUp = new CancellationTokenSource();

        var first = FetchAsync(fetcher, server, 0);
        await TestTimeout.UntilAsync(() => fetcher.RequestsWritten == 1, "the first request written");
        var second = FetchAsync(fetcher, server, 1, giveUp.Token);
        await TestTimeout.UntilAsync(() => fetcher.RequestsWritten == 2, "the second request written");
        var third = FetchAsync(fetcher, server, 2);
        await TestTimeout.UntilAsync(() => fetcher.RequestsWritten == 3, "the third request written");
        await giveUp.CancelAsync();

        Assert.Equal(FetchStatus.Canceled, (await second).Result.Status);
        var (_, firstResult, firstBytes) = await first;
        var (_, thirdResult, thirdBytes) = await third;
        Assert.Equal(FetchStatus.Ok, firstResult.Status);
        Assert.Equal(Expected(0), firstBytes);
        // The third reads its own answer, not the second's: the second's was read and dropped in between.
        Assert.Equal(FetchStatus.Ok, thirdResult.Status);
        Assert.Equal(Expected(2), thirdBytes);
        var (_, again, againBytes) = await FetchAsync(fetcher, server, 3);
        Assert.Equal(FetchStatus.Ok, again.Status);
        Assert.Equal(Expected(3), againBytes);
        Assert.Equal(1, fetcher.ConnectionsOpened);
        await TestTimeout.UntilAsync(() => server.RequestsServed == 4, "4 requests served, the dropped one too");
    }

    [Fact]
    public async Task ARequestGivenUpHalfwayThroughItsAnswer_BreaksTheConnection_AndTheOneBehindItGoesAgainOnANewOne()
    {
        await using var server = await StartServerAsync(tls: null, uploadLimit: 128 * 1024);
        await using var fetcher = Fetcher(tls: null);
        using var giveUp = new CancellationTokenSource();

        var first = FetchAsync(fetcher, server, 0, giveUp.Token);
        await TestTimeout.UntilAsync(() => fetcher.RequestsWritten == 1, "the first request written");
        var second = FetchAsync(fetcher, server, 1);
        await TestTimeout.UntilAsync(() => fetcher.RequestsWritten == 2, "the second request written");
        await giveUp.CancelAsync();

        Assert.Equal(FetchStatus.Canceled, (await first).Result.Status);
        var (_, result, bytes) = await second;
        Assert.Equal(FetchStatus.Ok, result.Status);
        Assert.Equal(Expected(1), bytes);
        Assert.Equal(2, fetcher.ConnectionsOpened);
        Assert.Equal(3, fetcher.RequestsWritten);
    }

    [Theory]
    [InlineData(true, 3)]
    [InlineData(false, 1)]
    public async Task AParentWhoseAnswersCameFast_GetsAConnectionPerRequestInFlight(bool fast, int connections)
    {
        // Pieces long enough to be timed; what counts as fast is set for the test (any answer, or none), so that the
        // machine's pace does not decide. Answers at 512 KiB/s: the three requests are all in flight together.
        _artifact = await TestArtifact.CreateAsync(_dir.Path, 8 * PieceFetcher.MinTimedAnswer, PieceFetcher.MinTimedAnswer, seed: 2);
        await using var server = await StartServerAsync(tls: null, uploadLimit: 512 * 1024);
        await using var fetcher = Fetcher(tls: null);
        fetcher.FastParentBytesPerSecond = fast ? 1 : double.PositiveInfinity;

        for (var i = 0; i < PieceFetcher.FastAnswersInARow; i++)
        {
            Assert.Equal(FetchStatus.Ok, (await FetchAsync(fetcher, server, i)).Result.Status);
        }
        Assert.Equal(1, fetcher.ConnectionsOpened);
        var results = await Task.WhenAll(Enumerable.Range(PieceFetcher.FastAnswersInARow, PiecePicker.DefaultParentLimit).Select(i => FetchAsync(fetcher, server, i)));

        Assert.All(results, r => Assert.Equal(FetchStatus.Ok, r.Result.Status));
        Assert.All(results, r => Assert.Equal(Expected(r.Index), r.Bytes));
        Assert.Equal(connections, fetcher.ConnectionsOpened);
        Assert.Equal(connections, server.ConnectionsAccepted);
    }

    private async Task<PieceServer> StartServerAsync(PeerTls? tls, long uploadLimit = 0)
    {
        var pieces = new LocalPieces();
        pieces.AddComplete(_artifact.Digest, _artifact.Layout, _artifact.Path);
        var options = new TransferOptions { DataDir = _dir.Path, UploadLimit = uploadLimit };
        var server = tls is null
            ? new PieceServer(pieces, options, NullLogger<PieceServer>.Instance)
            : new PieceServer(pieces, options, tls, NullLogger<PieceServer>.Instance);
        await server.StartAsync(IPAddress.Loopback, 0, CancellationToken.None);
        return server;
    }

    private PieceFetcher Fetcher(PeerTls? tls) => new(new TransferOptions { DataDir = _dir.Path }, tls, NullLogger<PieceFetcher>.Instance);

    private byte[] Expected(int index) =>
        _artifact.Bytes.AsSpan((int)_artifact.Layout.OffsetOf(index), _artifact.Layout.LengthOf(index)).ToArray();

    private async Task<(int Index, FetchResult Result, byte[] Bytes)> FetchAsync(PieceFetcher fetcher, PieceServer server, int index, CancellationToken ct = default)
    {
        var layout = _artifact.Layout;
        var buffer = new byte[layout.LengthOf(index)];
        var result = await fetcher.FetchAsync("127.0.0.1", server.Port, DigestKey.From(_artifact.Digest), layout.OffsetOf(index), buffer,
            _artifact.Manifest.PieceDigests[index].Memory, ct, peerId: "agent-server").AsTask().Within();
        return (index, result, buffer);
    }
}
