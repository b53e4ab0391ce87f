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
/// gives one key per direction. Nonces are frame counters, so a frame cannot be replayed, dropped
/// or reordered without failing its tag. The client speaks first and each side waits for the
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
    private static readonly byte[] ClientToServer = Encoding.ASCII.GetBytes("client to server");
    private static readonly byte[] ServerToClient = Encoding.ASCII.GetBytes("server to client");

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

    /// <summary>The two directions' keys from both secrets (client's first); public for tests that build a channel without TLS.</summary>
    public static BulkKeys Derive(ReadOnlySpan<byte> clientSecret, ReadOnlySpan<byte> serverSecret, bool isClient, BulkAlgorithm algorithm)
    {
        Span<byte> input = stackalloc byte[2 * SecretLength];
        Span<byte> pseudoRandomKey = stackalloc byte[32];
        Span<byte> clientKey = stackalloc byte[32];
        Span<byte> serverKey = stackalloc byte[32];
        try
        {
            clientSecret.CopyTo(input);
            serverSecret.CopyTo(input[SecretLength..]);
            HKDF.Extract(HashAlgorithmName.SHA256, input, Salt, pseudoRandomKey);
            var keyLength = algorithm == BulkAlgorithm.Aes128Gcm ? 16 : 32;
            HKDF.Expand(HashAlgorithmName.SHA256, pseudoRandomKey, clientKey[..keyLength], ClientToServer);
            HKDF.Expand(HashAlgorithmName.SHA256, pseudoRandomKey, serverKey[..keyLength], ServerToClient);
            var fromClient = new BulkCipher(algorithm, clientKey[..keyLength]);
            var fromServer = new BulkCipher(algorithm, serverKey[..keyLength]);
            return isClient ? new BulkKeys(fromClient, fromServer) : new BulkKeys(fromServer, fromClient);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
            CryptographicOperations.ZeroMemory(pseudoRandomKey);
            CryptographicOperations.ZeroMemory(clientKey);
            CryptographicOperations.ZeroMemory(serverKey);
        }
    }
}

/// <summary>The AEADs of the bulk channel: those of the TLS 1.3 suites this fleet may negotiate.</summary>
internal enum BulkAlgorithm
{
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

/// <summary>
/// One direction's AEAD with its frame counter as the nonce. One user at a time: the stream's
/// writer seals, its reader opens.
/// </summary>
internal sealed class BulkCipher : IDisposable
{
    public const int TagLength = 16;

    /// <summary>
    /// Bytes one key may seal before the connection must be opened anew: 2^36 (64 GiB), below TLS 1.3's
    /// AES-GCM limit (2^24.5 records of 16 KiB) and far below where the nonce counter could wrap.
    /// </summary>
    public const long ByteLimit = 1L << 36;

    private readonly AesGcm? _aes;
    private readonly ChaCha20Poly1305? _chacha;
    private readonly byte[] _nonce = new byte[12];
    private ulong _frames;
    private long _bytes;

    public BulkCipher(BulkAlgorithm algorithm, ReadOnlySpan<byte> key)
    {
        Algorithm = algorithm;
        if (algorithm == BulkAlgorithm.ChaCha20Poly1305)
        {
            _chacha = new ChaCha20Poly1305(key);
        }
        else
        {
            _aes = new AesGcm(key, TagLength);
        }
    }

    public BulkAlgorithm Algorithm { get; }

    /// <summary>Seals the next frame: <paramref name="plaintext"/> into <paramref name="ciphertext"/> and <paramref name="tag"/>, bound to <paramref name="header"/>.</summary>
    /// <exception cref="IOException">This key has sealed <see cref="ByteLimit"/> bytes: the connection must be opened anew.</exception>
    public void Seal(ReadOnlySpan<byte> header, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag)
    {
        NextNonce(plaintext.Length);
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
    /// <exception cref="IOException">The frame failed its check (the connection cannot be trusted any more), or the key's limit is reached.</exception>
    public void Open(ReadOnlySpan<byte> header, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext)
    {
        NextNonce(ciphertext.Length);
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
            throw new IOException($"frame {_frames - 1} from the peer failed its integrity check: the connection was tampered with or is out of step", e);
        }
    }

    public void Dispose()
    {
        _aes?.Dispose();
        _chacha?.Dispose();
    }

    /// <summary>Nonce = 4 zero bytes and the frame's 64-bit number, big-endian; each frame is numbered once.</summary>
    private void NextNonce(int length)
    {
        _bytes += length;
        if (_bytes > ByteLimit)
        {
            throw new IOException($"the connection's key has carried its limit of {ByteLimit >> 30} GiB; it is closed and opened anew");
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(_nonce.AsSpan(4), _frames);
        _frames++;
    }
}
