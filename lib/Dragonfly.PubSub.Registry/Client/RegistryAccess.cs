namespace Dragonfly.PubSub.Registry.Client;

/// <summary>Whether a registry lets given credentials in (its base endpoint <c>/v2/</c>).</summary>
public enum RegistryAccess
{
    Granted,

    /// <summary>Anonymous access was refused: the client has to send credentials.</summary>
    NeedsCredentials,

    /// <summary>The credentials that were sent were refused.</summary>
    Refused,
}
