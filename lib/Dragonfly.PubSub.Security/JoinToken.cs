using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// A join token, <c>dfj1.&lt;id&gt;.&lt;secret&gt;.&lt;caPin&gt;</c>: id = 12 hex characters (names the token in
/// logs and revocations), secret = 32 random bytes base64url, caPin = base64url(SHA-256(CA certificate
/// DER)) without padding, which the enrolling agent uses to trust the broker on first contact.
/// The broker stores only <see cref="HashSecret"/> of the secret.
/// </summary>
public sealed record JoinToken(string Id, string Secret, string CaPin)
{
    public const string Prefix = "dfj1";
    private const int SecretBytes = 32;
    private const int Sha256Base64UrlLength = 43;

    public static JoinToken Create(string caPin)
    {
        var secret = new byte[SecretBytes];
        RandomNumberGenerator.Fill(secret);
        return new JoinToken(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)), Base64Url(secret), caPin);
    }

    public override string ToString() => $"{Prefix}.{Id}.{Secret}.{CaPin}";

    /// <summary>Parses a token; on failure <paramref name="error"/> says what is wrong in one line (never echoing the secret).</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out JoinToken? token, [NotNullWhen(false)] out string? error)
    {
        token = null;
        var parts = (text ?? "").Trim().Split('.');
        if (parts.Length != 4 || parts[0] != Prefix)
        {
            error = $"not a join token: expected {Prefix}.<id>.<secret>.<ca-pin> (make one with: dfbroker token create --role agent)";
            return false;
        }
        if (parts[1].Length != 12 || !parts[1].All(char.IsAsciiHexDigitLower))
        {
            error = "the join token's id is not 12 lower-case hex characters; copy the whole token again";
            return false;
        }
        if (!IsBase64Url(parts[2], Sha256Base64UrlLength))
        {
            error = "the join token's secret is malformed (expected 43 base64url characters); copy the whole token again";
            return false;
        }
        if (!IsBase64Url(parts[3], Sha256Base64UrlLength))
        {
            error = "the join token's CA pin is malformed (expected 43 base64url characters); copy the whole token again";
            return false;
        }
        token = new JoinToken(parts[1], parts[2], parts[3]);
        error = null;
        return true;
    }

    /// <summary>base64url(SHA-256(DER)) of a certificate, without padding.</summary>
    public static string PinOf(X509Certificate2 certificate) => Base64Url(SHA256.HashData(certificate.RawData));

    /// <summary>Whether a certificate is the one the token pins.</summary>
    public bool PinMatches(X509Certificate2 certificate) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(PinOf(certificate)), Encoding.ASCII.GetBytes(CaPin));

    /// <summary>What the broker stores instead of the secret: lower-case hex SHA-256 of its text.</summary>
    public static string HashSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(secret)));

    /// <summary>Compares this token's secret with a stored hash in constant time.</summary>
    public bool SecretMatches(string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(HashSecret(Secret)), Encoding.ASCII.GetBytes(storedHash));

    internal static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool IsBase64Url(string text, int length) =>
        text.Length == length && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}
