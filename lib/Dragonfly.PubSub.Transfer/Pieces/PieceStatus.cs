namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>The status byte of a <see cref="PieceProtocol"/> response.</summary>
internal enum PieceStatus : byte
{
    Ok = 0,
    Missing = 1,
    BadRequest = 2,
    Busy = 3,
    Full = 4,
    /// <summary>No valid ticket for this task on this connection: the requester is not a member of it (issue 11).</summary>
    Forbidden = 5,
}
