using System.Buffers.Binary;
using System.Net.Security;
using System.Security.Cryptography;
using System.Text;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The keys of a peer connection's bulk channel (<see cref="BulkPeerStream"/>), agreed inside its
/// TLS 1.3 session right after the mutually authenticated handshake.
/// <para>
/// Why: SslStream encrypts in records of at most 16 KiB and pays its per-record costs (OpenSSL
/// calls through memory BIOs, the record buffer, two copies) on every one of them. A swarm measured
/// 9.6 CPU-s per GB delivered with TLS and 5.96 without (README, session 24). The bulk channel uses
/// the same AEAD that TLS negotiated, in 64 KiB frames, decrypted straight into the piece buffer.
/// </para>
/// <para>
/// How: each side draws <see cref="SecretLength"/> random bytes and sends them to the other
/// through the TLS session, so only the two authenticated ends know them. HKDF-SHA256 over both
/// gives one traffic secret per direction (<see cref="BulkCipher"/>). Nonces count frames, so a frame
/// cannot be replayed, dropped or reordered without failing its tag. The client speaks first and each side waits for the
/// other's secret before it sends anything else. Neither SslStream therefore reads past the secret
/// into the first frame (its buffer would hide those bytes).
/// </para>
/// </summary>
internal sealed class BulkKeys
{
    /// <summary>The ALPN name a peer offers when it speaks the bulk channel after the handshake.</summary>
    public static readonly SslApplicationProtocol Protocol = new("dfps-bulk/1");

    /// <summary>
    /// Plain TLS for the whole connection: also offered, so a client and server always share one name
    /// (a TLS server may end the handshake when client and server name no protocol in common).
    /// </summary>
    public static readonly SslApplicationProtocol TlsOnly = new("dfps/1");

    public const int SecretLength = 32;

    private static readonly byte[] Salt = Encoding.ASCII.GetBytes("dragonfly-pubsub peer bulk channel v1");

    private BulkKeys(BulkCipher send, BulkCipher receive)
    {
        Send = send;
        Receive = receive;
    }

    /// <summary>Seals what this side sends.</summary>
    public BulkCipher Send { get; }

    /// <summary>Opens what the other side sends.</summary>
    public BulkCipher Receive { get; }

    /// <summary>The AEAD for a TLS 1.3 suite, or null for a suite the bulk channel does not speak (the connection stays in TLS).</summary>
    public static BulkAlgorithm? AlgorithmOf(TlsCipherSuite suite) => suite switch
    {
        TlsCipherSuite.TLS_AES_128_GCM_SHA256 => BulkAlgorithm.Aes128Gcm,
        TlsCipherSuite.TLS_AES_256_GCM_SHA384 => BulkAlgorithm.Aes256Gcm,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256 => BulkAlgorithm.ChaCha20Poly1305,
        _ => null,
    };

    /// <summary>Swaps secrets with the other side through <paramref name="tls"/> and derives the two keys.</summary>
    /// <exception cref="IOException">The other side closed the connection during the exchange.</exception>
    public static async ValueTask<BulkKeys> ExchangeAsync(SslStream tls, bool isClient, BulkAlgorithm algorithm, CancellationToken ct)
    {
        var mine = RandomNumberGenerator.GetBytes(SecretLength);
        var theirs = new byte[SecretLength];
        try
        {
            if (isClient)
            {
                await tls.WriteAsync(mine, ct).ConfigureAwait(false);
                await tls.FlushAsync(ct).ConfigureAwait(false);
                await tls.ReadExactlyAsync(theirs, ct).ConfigureAwait(false);
            }
            else
            {
                await tls.ReadExactlyAsync(theirs, ct).ConfigureAwait(false);
                await tls.WriteAsync(mine, ct).ConfigureAwait(false);
                await tls.FlushAsync(ct).ConfigureAwait(false);
            }
            return Derive(isClient ? mine : theirs, isClient ? theirs : mine, isClient, algorithm);
        }
        catch (EndOfStreamException e)
        {
            throw new IOException("the peer closed the connection while the bulk channel's keys were agreed", e);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(mine);
            CryptographicOperations.ZeroMemory(theirs);
        }
    }

    /// <summary>
    /// Offered only where every AEAD the bulk channel may meet works: the choice is made before the
    /// handshake, and both ends must be able to go on with whatever suite it picks.
    /// </summary>
    public static bool Available => AesGcm.IsSupported && ChaCha20Poly1305.IsSupported;

    /// <summary>
    /// The two directions' traffic secrets from both sides' secrets (client's first), each bound to the protocol
    /// name, the AEAD and its direction. Public for tests that build a channel without TLS.
    /// </summary>
    /// <param name="framesPerKey">Frames sealed under one key before both ends turn to the next (tests make it small).</param>
    public static BulkKeys Derive(ReadOnlySpan<byte> clientSecret, ReadOnlySpan<byte> serverSecret, bool isClient, BulkAlgorithm algorithm,
        ulong framesPerKey = BulkCipher.DefaultFramesPerKey)
    {
        Span<byte> input = stackalloc byte[2 * SecretLength];
        Span<byte> pseudoRandomKey = stackalloc byte[32];
        Span<byte> clientTraffic = stackalloc byte[32];
        Span<byte> serverTraffic = stackalloc byte[32];
        try
        {
            clientSecret.CopyTo(input);
            serverSecret.CopyTo(input[SecretLength..]);
            HKDF.Extract(HashAlgorithmName.SHA256, input, Salt, pseudoRandomKey);
            HKDF.Expand(HashAlgorithmName.SHA256, pseudoRandomKey, clientTraffic, Label(algorithm, "client to server"));
            HKDF.Expand(HashAlgorithmName.SHA256, pseudoRandomKey, serverTraffic, Label(algorithm, "server to client"));
            var fromClient = new BulkCipher(algorithm, clientTraffic, framesPerKey);
            var fromServer = new BulkCipher(algorithm, serverTraffic, framesPerKey);
            return isClient ? new BulkKeys(fromClient, fromServer) : new BulkKeys(fromServer, fromClient);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
            CryptographicOperations.ZeroMemory(pseudoRandomKey);
            CryptographicOperations.ZeroMemory(clientTraffic);
            CryptographicOperations.ZeroMemory(serverTraffic);
        }
    }

    private static byte[] Label(BulkAlgorithm algorithm, string direction) =>
        Encoding.ASCII.GetBytes($"{Protocol} {algorithm} {direction}");
}

/// <summary>The AEADs of the bulk channel: those of the TLS 1.3 suites this fleet may negotiate.</summary>
internal enum BulkAlgorithm
{
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

/// <summary>
/// One direction's AEAD. Its key and a nonce mask come from the direction's traffic secret; the
/// nonce is the mask XOR the frame's number under that key (as TLS 1.3 does, so no two connections
/// share nonces on known plaintext). After <see cref="DefaultFramesPerKey"/> frames both ends turn
/// to the next traffic secret, HKDF of the last: TLS 1.3's key update without a message, since both
/// count the same frames. One user at a time: the stream's writer seals, its reader opens.
/// </summary>
internal sealed class BulkCipher : IDisposable
{
    public const int TagLength = 16;

    /// <summary>
    /// 2^20 frames of at most 64 KiB: at most 64 GiB under one key, below TLS 1.3's limit for AES-GCM
    /// (2^24.5 records of 16 KiB, about 380 GiB).
    /// </summary>
    public const ulong DefaultFramesPerKey = 1UL << 20;

    private static readonly byte[] KeyLabel = Encoding.ASCII.GetBytes("key");
    private static readonly byte[] MaskLabel = Encoding.ASCII.GetBytes("iv");
    private static readonly byte[] NextLabel = Encoding.ASCII.GetBytes("next");

    private readonly ulong _framesPerKey;
    private readonly byte[] _secret;
    private readonly byte[] _mask = new byte[12];
    private readonly byte[] _nonce = new byte[12];
    private AesGcm? _aes;
    private ChaCha20Poly1305? _chacha;
    private ulong _frames;
    private ulong _generation;

    public BulkCipher(BulkAlgorithm algorithm, ReadOnlySpan<byte> trafficSecret, ulong framesPerKey = DefaultFramesPerKey)
    {
        Algorithm = algorithm;
        _framesPerKey = framesPerKey;
        _secret = trafficSecret.ToArray();
        UseSecret();
    }

    public BulkAlgorithm Algorithm { get; }

    /// <summary>Seals the next frame: <paramref name="plaintext"/> into <paramref name="ciphertext"/> and <paramref name="tag"/>, bound to <paramref name="header"/>.</summary>
    public void Seal(ReadOnlySpan<byte> header, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag)
    {
        NextNonce();
        if (_aes is not null)
        {
            _aes.Encrypt(_nonce, plaintext, ciphertext, tag, header);
        }
        else
        {
            _chacha!.Encrypt(_nonce, plaintext, ciphertext, tag, header);
        }
    }

    /// <summary>Opens the next frame; a frame that was altered, replayed, reordered or sealed with another key fails.</summary>
    /// <exception cref="IOException">The frame failed its check: the connection cannot be trusted any more.</exception>
    public void Open(ReadOnlySpan<byte> header, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext)
    {
        NextNonce();
        try
        {
            if (_aes is not null)
            {
                _aes.Decrypt(_nonce, ciphertext, tag, plaintext, header);
            }
            else
            {
                _chacha!.Decrypt(_nonce, ciphertext, tag, plaintext, header);
            }
        }
        catch (CryptographicException e)
        {
            throw new IOException($"frame {_frames - 1} of key {_generation} from the peer failed its integrity check: the connection was tampered with or is out of step", e);
        }
    }

    public void Dispose()
    {
        _aes?.Dispose();
        _chacha?.Dispose();
        CryptographicOperations.ZeroMemory(_secret);
    }

    private void NextNonce()
    {
        if (_frames == _framesPerKey)
        {
            Span<byte> next = stackalloc byte[32];
            HKDF.Expand(HashAlgorithmName.SHA256, _secret, next, NextLabel);
            next.CopyTo(_secret);
            CryptographicOperations.ZeroMemory(next);
            _generation++;
            UseSecret();
        }
        _mask.CopyTo(_nonce, 0);
        var number = BinaryPrimitives.ReadUInt64BigEndian(_nonce.AsSpan(4)) ^ _frames;
        BinaryPrimitives.WriteUInt64BigEndian(_nonce.AsSpan(4), number);
        _frames++;
    }

    /// <summary>The key and nonce mask of the current traffic secret, its frame count from zero.</summary>
    private void UseSecret()
    {
        _aes?.Dispose();
        _chacha?.Dispose();
        _aes = null;
        _chacha = null;
        Span<byte> key = stackalloc byte[32];
        try
        {
            var length = Algorithm == BulkAlgorithm.Aes128Gcm ? 16 : 32;
            HKDF.Expand(HashAlgorithmName.SHA256, _secret, key[..length], KeyLabel);
            HKDF.Expand(HashAlgorithmName.SHA256, _secret, _mask, MaskLabel);
            if (Algorithm == BulkAlgorithm.ChaCha20Poly1305)
            {
                _chacha = new ChaCha20Poly1305(key[..length]);
            }
            else
            {
                _aes = new AesGcm(key[..length], TagLength);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
        _frames = 0;
    }
}
