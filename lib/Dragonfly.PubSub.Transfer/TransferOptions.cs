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
}
