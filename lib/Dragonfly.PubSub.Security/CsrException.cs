namespace Dragonfly.PubSub.Security;

/// <summary>A certificate signing request the CA will not sign (malformed, bad signature, wrong key type).</summary>
public sealed class CsrException : Exception
{
    public CsrException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
