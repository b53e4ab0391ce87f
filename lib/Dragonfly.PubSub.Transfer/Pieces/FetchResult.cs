namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>How one piece request ended.</summary>
/// <param name="Detail">Why, for logs, when not <see cref="FetchStatus.Ok"/>.</param>
internal readonly record struct FetchResult(FetchStatus Status, string? Detail = null)
{
    public static FetchResult Ok => new(FetchStatus.Ok);

    /// <summary>
    /// <see cref="FetchStatus.Corrupt"/> because the whole body arrived and failed a chained check
    /// (<see cref="PieceCheckKind.ChainState"/>, <see cref="PieceCheckKind.ChainFinal"/>): the bytes are in the buffer.
    /// </summary>
    public bool ChainMismatch { get; init; }
}
