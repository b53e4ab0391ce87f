namespace Dragonfly.PubSub.Security;

/// <summary>A certificate, key or CA file that is missing, unreadable or not what it should be; the message names the file.</summary>
public sealed class TlsFileException : Exception
{
    public TlsFileException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
