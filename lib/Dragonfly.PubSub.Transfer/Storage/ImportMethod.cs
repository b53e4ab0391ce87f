namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>How a published file entered the content store.</summary>
public enum ImportMethod
{
    /// <summary>The store already held the same bytes.</summary>
    AlreadyStored,

    /// <summary>A copy-on-write clone (FICLONE): no bytes copied, and later edits of the file do not reach it.</summary>
    Cloned,

    /// <summary>A hard link to the file itself: no bytes copied; its stamp is guarded while it is served.</summary>
    Linked,

    /// <summary>Copied while hashed: the file is on another filesystem (or cannot be linked).</summary>
    Copied,
}
