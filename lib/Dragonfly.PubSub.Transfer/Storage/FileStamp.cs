namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>
/// Who a file is and when its bytes last changed: inode, size and modification time (ns). A file
/// published in place is shared with its owner by a hard link; a different stamp means the owner
/// changed it (or replaced the content store's name), so its pieces may no longer match.
/// </summary>
public readonly record struct FileStamp(ulong Inode, long Size, long ModifiedNs)
{
    /// <summary>The stamp of <paramref name="path"/>, or null when it cannot be read (gone, not Linux).</summary>
    public static FileStamp? Of(string path) => NativeFiles.Stat(path);
}
