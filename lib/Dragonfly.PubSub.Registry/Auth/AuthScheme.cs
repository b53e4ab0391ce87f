namespace Dragonfly.PubSub.Registry.Auth;

/// <summary>How a registry wants to be authenticated to.</summary>
internal enum AuthScheme
{
    /// <summary>Anonymous access was accepted.</summary>
    None,
    Basic,
    Bearer,
}
