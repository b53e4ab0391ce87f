namespace Dragonfly.PubSub.Transfer;

/// <summary>The settings the transfer engines need; dfagent maps its own options onto these.</summary>
public sealed record TransferOptions
{
    public required string DataDir { get; init; }

    /// <summary>
    /// The default of <see cref="PiecesInFlight"/>: 8. Session 11 raised it to 12 for parent sets of 16 peers, when
    /// the 16 × 256 MiB swarm finished 1.5–1.9 × D_min; with today's swarm (upload caps, piece news from parents)
    /// 8 finishes as soon (16 × 256 MiB and 8 × 64 MiB, both modes) at ~2 CPU-s per GB less and ~9 MiB less
    /// peak RSS per agent (session 21). Likely why, not measured: fewer transfers share each 100 Mbit/s link, so
    /// each wake-up carries more bytes, and fewer piece buffers are held. Pieces of 4 MiB and more stay at 8 or fewer
    /// (<c>TaskDownloader.InFlightBudget</c>).
    /// </summary>
    public const int DefaultPiecesInFlight = 8;

    /// <summary>Pieces in flight per task (each holds one piece buffer in memory).</summary>
    public int PiecesInFlight { get; init; } = DefaultPiecesInFlight;

    /// <summary>
    /// How often a download writes its finished pieces into its record in the agent database (and raises them as
    /// progress); the scheduler hears of each piece at once, whatever this is. A save per piece was ~10 % of a
    /// 16-agent swarm's CPU with 256 KiB pieces (perf, <c>dfbench swarm</c> 16 × 256 MiB, session 23): LiteDB's
    /// mapper, snapshot and log pages for every piece; and the extra log pages grew LiteDB's page cache by its next
    /// 8 MiB segment (peak RSS 94 → 103 MiB). A crash loses at most this much progress (and one tick of the
    /// download's loop, 250 ms): those pieces are fetched again from peers. Pieces from the origin are saved at
    /// once (a second origin copy is what a crash must not cost). Zero saves after every batch of pieces.
    /// </summary>
    public TimeSpan RecordSaveInterval { get; init; } = TimeSpan.FromMilliseconds(200);

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

    /// <summary>
    /// Learn parents' new pieces from the parents themselves (piece-map polls, <c>Pieces/ParentMapWatches</c>),
    /// and tell the broker so (<c>Hello.parent_piece_maps</c>): it then relays no piece news to this agent. Off
    /// (<c>dfagent --piece-news broker</c>): the broker relays every parent's news, as before session 16.
    /// </summary>
    public bool FollowParentMaps { get; init; } = true;
}
