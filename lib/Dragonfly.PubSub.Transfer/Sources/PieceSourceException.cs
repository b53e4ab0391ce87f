namespace Dragonfly.PubSub.Transfer.Sources;

/// <summary>
/// An <see cref="IPieceSource"/> gave up. The message is one line a user can read (no
/// credentials). <see cref="Permanent"/>: the origin answered for good (not found, access
/// denied, the object changed), so no other source will do better; otherwise its retries ran out.
/// </summary>
public sealed class PieceSourceException : Exception
{
    public PieceSourceException(string message, bool permanent, Exception? inner = null)
        : base(message, inner)
    {
        Permanent = permanent;
    }

    public bool Permanent { get; }
}
