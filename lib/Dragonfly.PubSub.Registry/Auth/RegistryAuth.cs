using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Dragonfly.PubSub.Registry.Auth;

/// <summary>
/// The credentials a registry request is made with: none, a user name and password (used for
/// Basic auth and for the Bearer token dance), or an Authorization header passed through as it is.
/// <see cref="ToString"/> and <see cref="Fingerprint"/> never reveal a secret.
/// </summary>
public sealed class RegistryAuth
{
    private RegistryAuth(string? username, string? password, string? header)
    {
        Username = username;
        Password = password;
        RawHeader = header;
        Fingerprint = username is null && header is null
            ? "anonymous"
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(header ?? $"basic\0{username}\0{password}")))[..16];
    }

    public static RegistryAuth Anonymous { get; } = new(null, null, null);

    public string? Username { get; }

    internal string? Password { get; }

    /// <summary>An Authorization header value sent upstream unchanged (e.g. a Bearer token the client already holds).</summary>
    internal string? RawHeader { get; }

    public bool IsAnonymous => Username is null && RawHeader is null;

    public bool HasCredentials => Username is not null;

    /// <summary>
    /// A short hash that tells credentials apart without revealing them: caches of tokens,
    /// manifests and access decisions are keyed by it so one user's access never serves another.
    /// </summary>
    public string Fingerprint { get; }

    public static RegistryAuth Basic(string username, string password)
    {
        ArgumentException.ThrowIfNullOrEmpty(username);
        ArgumentNullException.ThrowIfNull(password);
        return new RegistryAuth(username, password, null);
    }

    /// <summary>
    /// The credentials a client sent in its Authorization header: Basic is decoded (so a Bearer
    /// challenge upstream can be answered with them; an empty user and password, as skopeo sends
    /// without credentials, is anonymous); any other scheme is passed through unchanged.
    /// </summary>
    public static RegistryAuth FromAuthorizationHeader(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return Anonymous;
        }
        if (AuthenticationHeaderValue.TryParse(header, out var parsed)
            && parsed.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)
            && parsed.Parameter is { } encoded)
        {
            try
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                var colon = text.IndexOf(':');
                if (colon >= 0)
                {
                    var user = text[..colon];
                    var password = text[(colon + 1)..];
                    return user.Length == 0 && password.Length == 0 ? Anonymous
                        : user.Length == 0 ? new RegistryAuth(null, null, header)
                        : new RegistryAuth(user, password, null);
                }
            }
            catch (FormatException)
            {
                // Not base64: pass it through and let the registry refuse it.
            }
        }
        return new RegistryAuth(null, null, header.Trim());
    }

    /// <summary>The Basic Authorization value of these credentials, or null without any.</summary>
    internal string? BasicHeaderValue() =>
        Username is null ? null : "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Username}:{Password}"));

    public override string ToString() => IsAnonymous ? "anonymous" : HasCredentials ? "credentials of one user" : "a passed-through Authorization header";
}
