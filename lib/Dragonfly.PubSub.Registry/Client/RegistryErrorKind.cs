namespace Dragonfly.PubSub.Registry.Client;

/// <summary>What went wrong talking to a registry; the mirror maps it onto a distribution API error.</summary>
public enum RegistryErrorKind
{
    /// <summary>The registry has no such repository, tag, manifest or blob (404).</summary>
    NotFound,

    /// <summary>Credentials are missing or were refused (401, or the token service refused them).</summary>
    Unauthorized,

    /// <summary>The credentials are valid but may not pull this repository (403).</summary>
    Denied,

    /// <summary>The registry rate-limits this client (429).</summary>
    TooManyRequests,

    /// <summary>Content does not hash to the digest it was requested or announced by.</summary>
    DigestMismatch,

    /// <summary>The image has none of the requested platforms.</summary>
    UnknownPlatform,

    /// <summary>A manifest or digest this client does not support (schema 1, sha512, ...).</summary>
    Unsupported,

    /// <summary>The registry answered something that is not the distribution API.</summary>
    BadResponse,

    /// <summary>The registry cannot be reached or fails (connection refused, timeout, 5xx).</summary>
    Unavailable,
}
