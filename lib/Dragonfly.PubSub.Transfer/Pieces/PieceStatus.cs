namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>The status byte of a <see cref="PieceProtocol"/> response.</summary>
internal enum PieceStatus : byte
{
    Ok = 0,
    Missing = 1,
    BadRequest = 2,
    Busy = 3,
    Full = 4,
}
