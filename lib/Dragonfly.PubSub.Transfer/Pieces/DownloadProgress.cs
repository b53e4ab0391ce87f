namespace Dragonfly.PubSub.Transfer.Pieces;

/// <param name="CompletedPieces">Pieces persisted as done in LiteDB.</param>
/// <param name="CompletedBytes">Bytes of those pieces.</param>
/// <param name="BytesFromPeers">Verified bytes this task got from peers (as stored in its record).</param>
/// <param name="BytesFromSource">Bytes this task fetched back-to-source from the origin (as stored in its record).</param>
public readonly record struct DownloadProgress(int CompletedPieces, int TotalPieces, long CompletedBytes, long BytesFromPeers, long BytesFromSource = 0);
