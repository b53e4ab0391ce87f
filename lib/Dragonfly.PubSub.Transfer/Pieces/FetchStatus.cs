namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>How one piece request ended. Expected failures are values, not exceptions.</summary>
internal enum FetchStatus
{
    /// <summary>The bytes arrived and match the piece digest.</summary>
    Ok,
    /// <summary>The bytes arrived but do not match the piece digest (or the length was wrong).</summary>
    Corrupt,
    /// <summary>The parent answered that it does not hold the piece.</summary>
    Missing,
    /// <summary>A seed is sending this piece to another peer right now: take it from the swarm or ask again later.</summary>
    Busy,
    /// <summary>The parent has no upload slot free and a queue already: ask it again in a moment.</summary>
    Full,
    /// <summary>Connecting or transferring failed, or the parent stalled.</summary>
    Unreachable,
    /// <summary>The caller cancelled the request.</summary>
    Canceled,
}
