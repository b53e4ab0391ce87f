namespace Dragonfly.PubSub.Registry.Client;

/// <summary>
/// A registry operation failed for a reason a user can act on. The message is one line and never
/// holds credentials or tokens.
/// </summary>
public sealed class RegistryException(RegistryErrorKind kind, string message, Exception? inner = null)
    : Exception(message, inner)
{
    public RegistryErrorKind Kind { get; } = kind;
}
