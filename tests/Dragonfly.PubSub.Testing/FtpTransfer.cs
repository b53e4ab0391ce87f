namespace Dragonfly.PubSub.Testing;

/// <summary>
/// One data transfer of the test FTP server: the command, the REST offset it started at, the
/// bytes the server pushed into the data connection (for a transfer the client cut short after its
/// range, more than the client read: what sat in the socket buffers), and whether it reached the end.
/// </summary>
public sealed record FtpTransfer(string Command, long Offset, long Bytes, bool Completed, string Path);
