using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// SHA-256 that starts from, and stops at, the state between two pieces of a file: the chaining
/// values a content manifest lists (<c>piece_chain</c>). Running it from the state before a piece
/// to the state after it checks that piece on its own, in any order, and the checks of all pieces
/// together are the SHA-256 of the whole file: the last piece's check finishes the hash (padding
/// and length) into the content id. .NET's hashes keep that state private, so this calls OpenSSL's
/// SHA256_Init/Update/Final on a SHA256_CTX of its own (libcrypto.so.3, the library .NET's own
/// SHA-256 runs on here, with the same SHA-NI code). Where that library is missing or does not
/// behave as laid out below, <see cref="IsSupported"/> is false and nothing uses the chain.
/// One instance per thread at a time, like IncrementalHash.
/// </summary>
public sealed partial class Sha256Chain
{
    /// <summary>A chaining value: the eight 32-bit words of SHA-256's state, big-endian.</summary>
    public const int StateSize = 32;

    /// <summary>SHA-256's block: a chaining value exists only at a multiple of it.</summary>
    public const int BlockSize = 64;

    private const string LibCrypto = "libcrypto.so.3";

    private static readonly Lazy<bool> Supported = new(SelfTest);

    private Context _context;

    /// <summary>OpenSSL's SHA256_CTX (openssl/sha.h): h[8], Nl, Nh, data[16], num, md_len.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Context
    {
        public Words8 H;
        public uint Nl;
        public uint Nh;
        public Words16 Data;
        public uint Num;
        public uint MdLen;
    }

    [InlineArray(8)]
    private struct Words8
    {
        private uint _word;
    }

    [InlineArray(16)]
    private struct Words16
    {
        private uint _word;
    }

    /// <summary>True where libcrypto's SHA256_* are there and reproduce SHA-256 across a chaining value.</summary>
    public static bool IsSupported => Supported.Value;

    /// <summary>
    /// A chain started at the beginning of a file of this layout, to hash it whole and record the
    /// chaining value after each piece but the last; null where there is no chain to record (one
    /// piece, a piece size that is not a multiple of the block), it cannot run here, or the layout has more than
    /// <see cref="PieceLayout.MaxPieceCount"/> pieces (only an explicit small piece size on a large file): the chain
    /// doubles a manifest's size, and manifests of default layouts stay under ~280 KB with it.
    /// </summary>
    public static Sha256Chain? ForLayout(PieceLayout layout)
    {
        if (layout.PieceCount < 2 || layout.PieceCount > PieceLayout.MaxPieceCount || layout.PieceSize % BlockSize != 0 || !IsSupported)
        {
            return null;
        }
        var chain = new Sha256Chain();
        chain.StartAt([], 0);
        return chain;
    }

    /// <summary>
    /// Starts at <paramref name="state"/> (empty: SHA-256's initial state) with
    /// <paramref name="bytesBefore"/> bytes already hashed, a multiple of <see cref="BlockSize"/>.
    /// </summary>
    public void StartAt(ReadOnlySpan<byte> state, long bytesBefore)
    {
        if (bytesBefore < 0 || bytesBefore % BlockSize != 0 || (state.IsEmpty != (bytesBefore == 0)))
        {
            throw new ArgumentException("a chaining value lies at a positive multiple of 64 bytes, the initial state at 0");
        }
        if (!state.IsEmpty && state.Length != StateSize)
        {
            throw new ArgumentException($"a chaining value is {StateSize} bytes", nameof(state));
        }
        if (SHA256_Init(ref _context) != 1)
        {
            throw new CryptographicException("SHA256_Init failed");
        }
        if (state.IsEmpty)
        {
            return;
        }
        for (var i = 0; i < 8; i++)
        {
            _context.H[i] = BinaryPrimitives.ReadUInt32BigEndian(state[(4 * i)..]);
        }
        var bits = (ulong)bytesBefore * 8;
        _context.Nl = (uint)bits;
        _context.Nh = (uint)(bits >> 32);
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty && SHA256_Update(ref _context, ref MemoryMarshal.GetReference(data), (nuint)data.Length) != 1)
        {
            throw new CryptographicException("SHA256_Update failed");
        }
    }

    /// <summary>The chaining value reached; only at a multiple of <see cref="BlockSize"/> bytes in all.</summary>
    public void WriteState(Span<byte> destination)
    {
        if (_context.Num != 0)
        {
            throw new InvalidOperationException("a chaining value exists only at a multiple of 64 bytes");
        }
        for (var i = 0; i < 8; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[(4 * i)..], _context.H[i]);
        }
    }

    /// <summary>Finishes the hash (padding and length): the SHA-256 of everything from the start of the file.</summary>
    public void Finish(Span<byte> digest)
    {
        if (digest.Length < StateSize)
        {
            throw new ArgumentException("a SHA-256 digest is 32 bytes", nameof(digest));
        }
        if (SHA256_Final(ref MemoryMarshal.GetReference(digest), ref _context) != 1)
        {
            throw new CryptographicException("SHA256_Final failed");
        }
    }

    /// <summary>
    /// Two blocks hashed with a chaining value between them must give what .NET's SHA-256 gives:
    /// proves the library is there and the context is laid out as declared.
    /// </summary>
    private static bool SelfTest()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }
        try
        {
            var data = new byte[3 * BlockSize + 17];
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = (byte)(i * 31 + 7);
            }
            var chain = new Sha256Chain();
            chain.StartAt([], 0);
            chain.Append(data.AsSpan(0, 2 * BlockSize));
            Span<byte> state = stackalloc byte[StateSize];
            chain.WriteState(state);
            var resumed = new Sha256Chain();
            resumed.StartAt(state, 2 * BlockSize);
            resumed.Append(data.AsSpan(2 * BlockSize));
            Span<byte> digest = stackalloc byte[StateSize];
            resumed.Finish(digest);
            return digest.SequenceEqual(SHA256.HashData(data));
        }
        catch (Exception)
        {
            // Whatever went wrong (no library, no symbol, a context laid out otherwise): no chain, never a failure.
            return false;
        }
    }

    [LibraryImport(LibCrypto)]
    private static partial int SHA256_Init(ref Context context);

    [LibraryImport(LibCrypto)]
    private static partial int SHA256_Update(ref Context context, ref byte data, nuint length);

    [LibraryImport(LibCrypto)]
    private static partial int SHA256_Final(ref byte digest, ref Context context);
}
