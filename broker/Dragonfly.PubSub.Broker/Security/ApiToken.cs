using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// A bearer token of the broker's HTTP API, <c>dfa1.&lt;id&gt;.&lt;secret&gt;</c>: id = 12 hex characters (names
/// the token in logs and <c>dfbroker token revoke</c>), secret = 32 random bytes base64url. Made by
/// <c>dfbroker token create --scope …</c> and kept, like a join token, as a hash of the secret only.
/// Unlike a join token it is not spent: it is presented on every request until it expires or is revoked.
/// </summary>
public sealed record ApiToken(string Id, string Secret)
{
    public const string Prefix = "dfa1";
    private const int SecretBytes = 32;
    private const int SecretLength = 43;

    public static ApiToken Create() => new(
        Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_'));

    public override string ToString() => $"{Prefix}.{Id}.{Secret}";

    /// <summary>Parses a token; false (never echoing the text) when it is not one.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ApiToken? token)
    {
        token = null;
        var parts = (text ?? "").Trim().Split('.');
        if (parts.Length != 3 || parts[0] != Prefix
            || parts[1].Length != 12 || !parts[1].All(char.IsAsciiHexDigitLower)
            || parts[2].Length != SecretLength || !parts[2].All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return false;
        }
        token = new ApiToken(parts[1], parts[2]);
        return true;
    }

    /// <summary>What the broker stores instead of the secret (the same hash as a join token's).</summary>
    public string SecretHash => JoinToken.HashSecret(Secret);

    /// <summary>Compares this token's secret with a stored hash in constant time.</summary>
    public bool SecretMatches(string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(SecretHash), Encoding.ASCII.GetBytes(storedHash));
}
