namespace Dragonfly.PubSub.Transfer;

/// <summary>The settings the transfer engines need; dfagent maps its own options onto these.</summary>
public sealed record TransferOptions
{
    public required string DataDir { get; init; }

    /// <summary>Pieces in flight per task (each holds one piece buffer in memory).</summary>
    public int PiecesInFlight { get; init; } = 8;

    /// <summary>Concurrent piece uploads served; requests beyond wait.</summary>
    public int UploadSlots { get; init; } = 4;

    /// <summary>Bytes per second over all downloads; 0 = unlimited.</summary>
    public long DownloadLimit { get; init; }

    /// <summary>Bytes per second over all uploads; 0 = unlimited.</summary>
    public long UploadLimit { get; init; }

    /// <summary>Open connections the peer port accepts in total; more are closed at once (issue 11, attack 7).</summary>
    public int MaxPeerConnections { get; init; } = 1024;

    /// <summary>Open connections the peer port accepts from one remote address.</summary>
    public int MaxPeerConnectionsPerAddress { get; init; } = 256;

    /// <summary>
    /// How long one write of a response may wait on the client (it must keep reading): past it the
    /// connection is dropped and its upload slot freed, so a client that requests and never reads holds nothing.
    /// </summary>
    public TimeSpan PeerSendTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
