namespace Dragonfly.PubSub.Security;

/// <summary>Enrolment or renewal failed; the message is one line saying what to fix (the broker's own words for a refused token).</summary>
public sealed class EnrolmentException(string message, bool refused = false, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The broker answered and said no (401/403): retrying with the same token or certificate will not help.</summary>
    public bool Refused { get; } = refused;
}
