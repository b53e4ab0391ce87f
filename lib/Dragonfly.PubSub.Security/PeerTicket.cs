using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// A short-lived permission to pull the pieces of one task from other peers' peer ports (issue 11,
/// attack 4): the broker hands one to each member of a task with its parents, the puller presents it
/// once per connection and task, and the serving peer checks it without asking the broker.
/// <code>
/// "DFT1"           4 bytes
/// task             32 bytes: the raw SHA-256 of the task id (the key of the piece protocol's requests)
/// expires          int64 big-endian, Unix seconds
/// peer id          uint8 length + UTF-8: the puller, as its certificate names it
/// signer           uint16 big-endian length + DER: the broker's certificate (role broker, fleet CA)
/// signature        the rest: ECDSA (IEEE P1363) or RSA PKCS#1 v1.5, SHA-256, over a domain string and
///                  every byte above
/// </code>
/// Carrying the signer's certificate lets any peer verify against the fleet CA it already trusts, across
/// broker restarts, renewed broker certificates and several brokers of one fleet.
/// </summary>
public sealed record PeerTicket(byte[] TaskKey, DateTimeOffset Expires, string PeerId, byte[] Signer, byte[] Signature)
{
    /// <summary>Longest ticket a peer port reads: a certificate of a few hundred bytes and a signature.</summary>
    public const int MaxLength = 4096;

    public const int TaskLength = 32;

    private static ReadOnlySpan<byte> Magic => "DFT1"u8;

    private static ReadOnlySpan<byte> Domain => "dragonfly.pubsub/peer-ticket/v1\0"u8;

    /// <summary>Signs a ticket for <paramref name="peerId"/> to pull <paramref name="task"/> until <paramref name="expires"/>.</summary>
    public static byte[] Sign(ReadOnlySpan<byte> task, string peerId, DateTimeOffset expires, X509Certificate2 signer)
    {
        ArgumentNullException.ThrowIfNull(signer);
        if (task.Length != TaskLength)
        {
            throw new ArgumentException($"a task key has {TaskLength} bytes", nameof(task));
        }
        var id = Encoding.UTF8.GetBytes(peerId);
        if (id.Length is 0 or > byte.MaxValue)
        {
            throw new ArgumentException("a peer id has 1 to 255 bytes", nameof(peerId));
        }
        var body = Body(task, expires.ToUnixTimeSeconds(), id, signer.RawData);
        var signed = Signed(body);
        byte[] signature;
        using (var ecdsa = signer.GetECDsaPrivateKey())
        {
            if (ecdsa is not null)
            {
                signature = ecdsa.SignData(signed, HashAlgorithmName.SHA256);
                return [.. body, .. signature];
            }
        }
        using var rsa = signer.GetRSAPrivateKey()
            ?? throw new ArgumentException("the signer certificate has neither an ECDSA nor an RSA private key", nameof(signer));
        signature = rsa.SignData(signed, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return [.. body, .. signature];
    }

    /// <summary>Reads a ticket's fields; null (and why) when the bytes are not one. The signature is not checked here.</summary>
    public static PeerTicket? TryParse(ReadOnlySpan<byte> bytes, out string? problem)
    {
        problem = null;
        var fixedLength = Magic.Length + TaskLength + 8 + 1;
        if (bytes.Length < fixedLength + 2 + 1 || bytes.Length > MaxLength || !bytes[..Magic.Length].SequenceEqual(Magic))
        {
            problem = "not a peer ticket";
            return null;
        }
        var at = Magic.Length;
        var task = bytes.Slice(at, TaskLength).ToArray();
        at += TaskLength;
        var seconds = BinaryPrimitives.ReadInt64BigEndian(bytes[at..]);
        at += 8;
        int idLength = bytes[at++];
        if (seconds is < 0 or > 253402300799 || idLength == 0 || at + idLength + 2 > bytes.Length)
        {
            problem = "a malformed peer ticket";
            return null;
        }
        string peerId;
        try
        {
            peerId = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.Slice(at, idLength));
        }
        catch (DecoderFallbackException)
        {
            problem = "a peer ticket whose peer id is not UTF-8";
            return null;
        }
        at += idLength;
        int derLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[at..]);
        at += 2;
        if (derLength == 0 || at + derLength >= bytes.Length)
        {
            problem = "a malformed peer ticket";
            return null;
        }
        var signer = bytes.Slice(at, derLength).ToArray();
        at += derLength;
        return new PeerTicket(task, DateTimeOffset.FromUnixTimeSeconds(seconds), peerId, signer, bytes[at..].ToArray());
    }

    /// <summary>Whether <see cref="Signature"/> is the holder of <paramref name="signer"/>'s signature over this ticket.</summary>
    public bool IsSignedBy(X509Certificate2 signer)
    {
        ArgumentNullException.ThrowIfNull(signer);
        var body = Body(TaskKey, Expires.ToUnixTimeSeconds(), Encoding.UTF8.GetBytes(PeerId), Signer);
        var signed = Signed(body);
        using (var ecdsa = signer.GetECDsaPublicKey())
        {
            if (ecdsa is not null)
            {
                return ecdsa.VerifyData(signed, Signature, HashAlgorithmName.SHA256);
            }
        }
        using var rsa = signer.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(signed, Signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    /// <summary>Every field but the signature, as on the wire.</summary>
    private static byte[] Body(ReadOnlySpan<byte> task, long expires, byte[] id, byte[] der)
    {
        var body = new byte[Magic.Length + TaskLength + 8 + 1 + id.Length + 2 + der.Length];
        var at = 0;
        Magic.CopyTo(body);
        at += Magic.Length;
        task.CopyTo(body.AsSpan(at));
        at += TaskLength;
        BinaryPrimitives.WriteInt64BigEndian(body.AsSpan(at), expires);
        at += 8;
        body[at++] = (byte)id.Length;
        id.CopyTo(body, at);
        at += id.Length;
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(at), checked((ushort)der.Length));
        at += 2;
        der.CopyTo(body, at);
        return body;
    }

    private static byte[] Signed(ReadOnlySpan<byte> body) => [.. Domain, .. body];
}
