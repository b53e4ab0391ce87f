using System.Net;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Swarm;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>A piece server on 127.0.0.1 (port 0) serving whatever the test puts in its <see cref="Pieces"/>.</summary>
public sealed class TestPeer : IAsyncDisposable
{
    private TestPeer(string peerId, LocalPieces pieces, PieceServer server, int port)
    {
        PeerId = peerId;
        Pieces = pieces;
        Server = server;
        Port = port;
    }

    public string PeerId { get; }
    public LocalPieces Pieces { get; }
    public PieceServer Server { get; }
    public int Port { get; }

    public static async Task<TestPeer> StartAsync(string peerId, TransferOptions? options = null)
    {
        var pieces = new LocalPieces();
        var server = new PieceServer(pieces, options ?? new TransferOptions { DataDir = Path.GetTempPath() }, NullLogger<PieceServer>.Instance);
        var port = await server.StartAsync(IPAddress.Loopback, 0, CancellationToken.None);
        return new TestPeer(peerId, pieces, server, port);
    }

    public ParentPeer AsParent(PieceBitmap bitmap, bool lastResort = false) => new(PeerId, "127.0.0.1", Port, bitmap, lastResort);

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
