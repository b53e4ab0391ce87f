using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The download's hasher: it says when every piece is in and proven, and what the whole file
/// hashes to. Every piece arriving from a peer or the origin was already checked against its own
/// digest while it streamed in; what is left depends on the <see cref="WholeFileProof"/>:
/// <list type="bullet">
/// <item><see cref="WholeFileProof.ManifestBinding"/>: nothing more is hashed when someone vouches
/// for the whole file once every piece is in (the content id, or a URL task's content digest as
/// its source reported it); when nobody does, the file is read back and hashed once at the end.
/// Pieces kept from an earlier run are read back once each and checked against their digest (a
/// crash may have lost bytes the database already counted).</item>
/// <item><see cref="WholeFileProof.Sha256"/>: the SHA-256 of the whole file is kept up to date in
/// piece order while pieces arrive in any order. A piece that arrives within a few places of the
/// next one is hashed from its buffer (the hasher holds it until its turn); any other is read back
/// from the partial file once all before it are in. A kept piece is read once into a piece buffer,
/// checked on its own, and only then joins the whole.</item>
/// </list>
/// <para>
/// The digests are the download's shared array, which URL tasks fill in while they run: it is
/// read when a kept piece is checked, never copied. A piece is written only once its digest is
/// in the array, so only a kept piece can lack one, and such a piece counts as damaged.
/// </para>
/// </summary>
internal sealed class WholeFileHasher : IDisposable
{
    /// <summary>How many pieces ahead of the next one the hasher keeps buffers for (bounded memory).</summary>
    private const int HoldAhead = 4;

    private readonly PieceLayout _layout;
    private readonly SafeFileHandle _file;
    private readonly byte[]?[] _pieceDigests;
    private readonly Func<int, byte[]> _rent;
    private readonly Action<byte[]> _return;
    private readonly bool[] _unverified;
    private readonly WholeFileProof _proof;
    private readonly Func<byte[]?>? _boundDigest; // set with ManifestBinding, the only proof that asks it

    private readonly Channel<(int Index, byte[]? Buffer)> _written =
        Channel.CreateUnbounded<(int, byte[]?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IncrementalHash _whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private int _next;
    private int _holding;

    /// <param name="unverified">Pieces already on disk from an earlier run.</param>
    /// <param name="pieceDigests">Shared with the download; a null entry is a digest not known yet.</param>
    /// <param name="boundDigest">
    /// With <see cref="WholeFileProof.ManifestBinding"/>: asked once every piece is proven, what
    /// vouches for the whole file (the SHA-256 that <see cref="RunAsync"/> then returns), or null
    /// when nobody does, and the file is hashed.
    /// </param>
    public WholeFileHasher(PieceLayout layout, SafeFileHandle file, byte[]?[] pieceDigests,
        Func<int, byte[]> rent, Action<byte[]> @return, PieceBitmap unverified, WholeFileProof proof, Func<byte[]?>? boundDigest = null)
    {
        if (proof == WholeFileProof.ManifestBinding && boundDigest is null)
        {
            throw new ArgumentException("a manifest-bound download needs to know what vouches for the whole file", nameof(boundDigest));
        }
        _layout = layout;
        _file = file;
        _pieceDigests = pieceDigests;
        _rent = rent;
        _return = @return;
        _proof = proof;
        _boundDigest = boundDigest;
        _unverified = new bool[layout.PieceCount];
        foreach (var i in unverified.SetIndexes())
        {
            _unverified[i] = true;
            _written.Writer.TryWrite((i, null));
        }
    }

    /// <summary>
    /// A verified piece was written. Returns true when the hasher took <paramref name="buffer"/>
    /// (it returns it to the pool itself); false when the caller keeps it.
    /// </summary>
    public bool Written(int index, byte[] buffer)
    {
        var take = _proof == WholeFileProof.Sha256 && TryReserve(index);
        if (_written.Writer.TryWrite((index, take ? buffer : null)))
        {
            return take;
        }
        if (take)
        {
            Interlocked.Decrement(ref _holding);
        }
        return false;
    }

    /// <summary>Holds the buffer of a piece due soon, so it need not be read back from disk.</summary>
    private bool TryReserve(int index)
    {
        var ahead = index - Volatile.Read(ref _next);
        if (ahead < 0 || ahead >= HoldAhead)
        {
            return false;
        }
        if (Interlocked.Increment(ref _holding) > HoldAhead)
        {
            Interlocked.Decrement(ref _holding);
            return false;
        }
        return true;
    }

    /// <summary>Stops accepting pieces; <see cref="RunAsync"/> ends once it has drained.</summary>
    public void Stop() => _written.Writer.TryComplete();

    /// <summary>
    /// Runs until every piece is in and proven. Calls <paramref name="damaged"/> for a kept piece
    /// whose bytes are wrong (it then waits for it to be written again). Returns the whole-file
    /// SHA-256, or null when stopped first.
    /// </summary>
    public Task<byte[]?> RunAsync(Action<int> damaged, CancellationToken ct) =>
        _proof == WholeFileProof.Sha256 ? HashInOrderAsync(damaged, ct) : ProveByPiecesAsync(damaged, ct);

    /// <summary>Counts pieces in; checks each kept piece once. What vouches for the whole stands for it.</summary>
    private async Task<byte[]?> ProveByPiecesAsync(Action<int> damaged, CancellationToken ct)
    {
        var count = _layout.PieceCount;
        var ready = new bool[count];
        var readyCount = 0;
        byte[]? buffer = null;
        try
        {
            while (readyCount < count)
            {
                if (!await _written.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
                {
                    return null;
                }
                while (_written.Reader.TryRead(out var item))
                {
                    ct.ThrowIfCancellationRequested();
                    if (ready[item.Index])
                    {
                        continue;
                    }
                    if (_unverified[item.Index])
                    {
                        _unverified[item.Index] = false;
                        buffer ??= _rent(_layout.PieceSize);
                        if (!Matches(item.Index, SHA256.HashData(ReadPiece(item.Index, buffer))))
                        {
                            damaged(item.Index);
                            continue;
                        }
                    }
                    ready[item.Index] = true;
                    readyCount++;
                }
            }
            if (_boundDigest!() is { Length: SHA256.HashSizeInBytes } bound)
            {
                return bound;
            }
            // Nobody vouches for the whole file (a URL task whose source has not said what it hashes
            // to, or one this agent fetched from the origin itself): one pass over it now.
            return HashFile(_file, _layout, _rent, _return, ct);
        }
        finally
        {
            _written.Writer.TryComplete();
            if (buffer is not null)
            {
                _return(buffer);
            }
        }
    }

    private async Task<byte[]?> HashInOrderAsync(Action<int> damaged, CancellationToken ct)
    {
        var count = _layout.PieceCount;
        var ready = new bool[count];
        var held = new Dictionary<int, byte[]>();
        byte[]? readBack = null;
        try
        {
            while (_next < count)
            {
                if (!await _written.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
                {
                    return null;
                }
                while (_written.Reader.TryRead(out var item))
                {
                    ready[item.Index] = true;
                    if (item.Buffer is not null)
                    {
                        held[item.Index] = item.Buffer;
                    }
                }
                while (_next < count && ready[_next])
                {
                    ct.ThrowIfCancellationRequested();
                    var index = _next;
                    var length = _layout.LengthOf(index);
                    if (held.Remove(index, out var buffer))
                    {
                        _whole.AppendData(buffer, 0, length);
                        Interlocked.Decrement(ref _holding);
                        _return(buffer);
                    }
                    else
                    {
                        // One read per piece: into a piece buffer, checked on its own when kept from
                        // an earlier run, then added to the whole.
                        readBack ??= _rent(_layout.PieceSize);
                        var piece = ReadPiece(index, readBack);
                        if (_unverified[index] && !Matches(index, SHA256.HashData(piece)))
                        {
                            _unverified[index] = false;
                            ready[index] = false;
                            damaged(index);
                            break;
                        }
                        _unverified[index] = false;
                        _whole.AppendData(piece);
                    }
                    Volatile.Write(ref _next, index + 1);
                }
            }
            return _whole.GetHashAndReset();
        }
        finally
        {
            // Buffers offered after the end are returned too.
            _written.Writer.TryComplete();
            while (_written.Reader.TryRead(out var item))
            {
                if (item.Buffer is not null)
                {
                    held[item.Index] = item.Buffer;
                }
            }
            foreach (var buffer in held.Values)
            {
                _return(buffer);
            }
            if (readBack is not null)
            {
                _return(readBack);
            }
        }
    }

    /// <summary>The SHA-256 of the whole file, read back piece by piece.</summary>
    public static byte[] HashFile(SafeFileHandle file, PieceLayout layout, Func<int, byte[]> rent, Action<byte[]> @return,
        CancellationToken ct = default)
    {
        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = rent(layout.PieceSize);
        try
        {
            for (var index = 0; index < layout.PieceCount; index++)
            {
                ct.ThrowIfCancellationRequested();
                whole.AppendData(ReadPiece(file, layout, index, buffer));
            }
            return whole.GetHashAndReset();
        }
        finally
        {
            @return(buffer);
        }
    }

    private bool Matches(int index, byte[] hash) =>
        Volatile.Read(ref _pieceDigests[index]) is { } expected && hash.AsSpan().SequenceEqual(expected);

    /// <summary>Reads a whole piece from the partial file into <paramref name="buffer"/>.</summary>
    private ReadOnlySpan<byte> ReadPiece(int index, byte[] buffer) => ReadPiece(_file, _layout, index, buffer);

    private static ReadOnlySpan<byte> ReadPiece(SafeFileHandle file, PieceLayout layout, int index, byte[] buffer)
    {
        var offset = layout.OffsetOf(index);
        var length = layout.LengthOf(index);
        var done = 0;
        while (done < length)
        {
            var n = RandomAccess.Read(file, buffer.AsSpan(done, length - done), offset + done);
            if (n <= 0)
            {
                throw new IOException($"the partial file ends before piece {index}");
            }
            done += n;
        }
        return buffer.AsSpan(0, length);
    }

    public void Dispose() => _whole.Dispose();
}
