using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Sources;

/// <summary>
/// An <see cref="IPieceSource"/> gave up. The message is one line a user can read (no
/// credentials). <see cref="Permanent"/>: the origin answered for good (not found, access
/// denied, the object changed), so no other source will do better; otherwise its retries ran out.
/// <see cref="Kind"/> says which, as data.
/// </summary>
public sealed class PieceSourceException : Exception
{
    public PieceSourceException(string message, bool permanent, TaskErrorKind kind, Exception? inner = null)
        : base(message, inner)
    {
        Permanent = permanent;
        Kind = kind;
    }

    public bool Permanent { get; }

    public TaskErrorKind Kind { get; }
}
