using System.Buffers;
using System.Security.Cryptography;
using System.Threading.Channels;
using Dragonfly.PubSub.Contracts;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// Keeps the SHA-256 of a download's whole file up to date in piece order while pieces arrive in
/// any order, so the content id check at the end costs almost nothing. A piece that is the next
/// one when written is hashed from its buffer; any other is read back from the partial file once
/// all before it are in. Pieces kept from an earlier run are checked against their own digest as
/// they are read back, since a crash may have lost bytes the database already counted.
/// <para>
/// The digests are the download's shared array, which URL tasks fill in while they run: it is
/// read when a kept piece is checked, never copied. A piece is written only once its digest is
/// in the array, so only a kept piece can lack one, and such a piece counts as damaged.
/// </para>
/// </summary>
internal sealed class WholeFileHasher : IDisposable
{
    private readonly PieceLayout _layout;
    private readonly SafeFileHandle _file;
    private readonly byte[]?[] _pieceDigests;
    private readonly Action<byte[]> _return;
    private readonly bool[] _unverified;
    private const int ReadBackChunk = 1024 * 1024;

    private readonly Channel<(int Index, byte[]? Buffer)> _written =
        Channel.CreateUnbounded<(int, byte[]?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IncrementalHash _whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private int _next;

    /// <param name="unverified">Pieces already on disk from an earlier run.</param>
    /// <param name="pieceDigests">Shared with the download; a null entry is a digest not known yet.</param>
    public WholeFileHasher(PieceLayout layout, SafeFileHandle file, byte[]?[] pieceDigests,
        Action<byte[]> @return, PieceBitmap unverified)
    {
        _layout = layout;
        _file = file;
        _pieceDigests = pieceDigests;
        _return = @return;
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
        var take = index == Volatile.Read(ref _next);
        if (_written.Writer.TryWrite((index, take ? buffer : null)))
        {
            return take;
        }
        return false;
    }

    /// <summary>Stops accepting pieces; <see cref="RunAsync"/> ends once it has drained.</summary>
    public void Stop() => _written.Writer.TryComplete();

    /// <summary>
    /// Hashes until every piece is in. Calls <paramref name="damaged"/> for a kept piece whose
    /// bytes are wrong (it then waits for it to be written again). Returns the whole-file SHA-256,
    /// or null when stopped first.
    /// </summary>
    public async Task<byte[]?> RunAsync(Action<int> damaged, CancellationToken ct)
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
                        _return(buffer);
                    }
                    else
                    {
                        readBack ??= ArrayPool<byte>.Shared.Rent(ReadBackChunk);
                        // A piece kept from an earlier run is checked on its own before it joins the whole.
                        if (_unverified[index] && !Matches(index, HashPiece(index, readBack, null)))
                        {
                            _unverified[index] = false;
                            ready[index] = false;
                            damaged(index);
                            break;
                        }
                        _unverified[index] = false;
                        HashPiece(index, readBack, _whole);
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
                ArrayPool<byte>.Shared.Return(readBack);
            }
        }
    }

    private bool Matches(int index, byte[] hash) =>
        Volatile.Read(ref _pieceDigests[index]) is { } expected && hash.AsSpan().SequenceEqual(expected);

    /// <summary>
    /// Reads a piece back from the partial file in chunks, into <paramref name="into"/> when given,
    /// otherwise into a fresh piece hash whose value is returned.
    /// </summary>
    private byte[] HashPiece(int index, byte[] chunk, IncrementalHash? into)
    {
        using var own = into is null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        var hash = into ?? own!;
        var offset = _layout.OffsetOf(index);
        var length = _layout.LengthOf(index);
        var done = 0;
        while (done < length)
        {
            var n = RandomAccess.Read(_file, chunk.AsSpan(0, Math.Min(chunk.Length, length - done)), offset + done);
            if (n <= 0)
            {
                throw new IOException($"the partial file ends before piece {index}");
            }
            hash.AppendData(chunk, 0, n);
            done += n;
        }
        return own?.GetHashAndReset() ?? [];
    }

    public void Dispose() => _whole.Dispose();
}
