namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// What <see cref="TlsPeerStream"/>'s SslStream reads from and writes to, instead of the socket's
/// NetworkStream: SslStream asks the socket for about one 16 KiB record per read and writes each
/// record with a send of its own, so a 1 MiB block costs 64 receives and 64 sends. Here reads are
/// served from a 128 KiB read-ahead, and the records of one <see cref="TlsPeerStream.WriteAsync"/>
/// (a batch) leave in sends of up to 64 KiB; writes outside a batch (the handshake, alerts) go out
/// at once. Measured over loopback (1 GiB, AES-GCM, 1 MiB blocks, both ends): 1.61–1.97 → 1.44–1.56 CPU-s,
/// most of it on the receiving side (bench/results/README.md, 2026-12-04). One reader (SslStream) and one writer at a time, as SslStream itself.
/// </summary>
/// <param name="socket">The socket's NetworkStream: writes, flushes and disposal.</param>
/// <param name="lowWater">The socket's receiving side: every read from the socket.</param>
internal sealed class TlsRecordStream(Stream socket, ReceiveLowWater lowWater) : Stream
{
    private const int BufferSize = 64 * 1024;
    // Twice the low-water mark: a wake-up with a mark's worth of bytes (and what came meanwhile) is drained in one receive.
    private const int ReadAheadSize = 2 * ReceiveLowWater.Mark;
    // Both buffers grow on demand: a connection that only carries piece-map polls (a few dozen bytes each way;
    // every child keeps one to each parent) then holds 4 KiB instead of 192 KiB at each end.
    private const int FirstReadAheadSize = 4 * 1024;
    private byte[] _readAhead = new byte[FirstReadAheadSize];
    private byte[]? _batch;
    private int _readStart;
    private int _readEnd;
    private int _batched;
    private bool _batching;
    private int _recordLeft;

    /// <summary>
    /// While set, a read returns bytes of one TLS record at most, so SslStream never holds bytes past the
    /// record it asked for: what follows the handshake and the bulk channel's key exchange (its frames,
    /// which are not TLS records) stays in the read-ahead for <see cref="TakeReadAhead"/>, whatever the
    /// other side sends when.
    /// </summary>
    public bool OneRecordPerRead { get; set; }

    /// <summary>Receives the ciphertext from the socket, counts it, and sets how much the kernel gathers per wake-up.</summary>
    public ReceiveLowWater LowWater => lowWater;

    /// <summary>Bytes received from the socket that SslStream has not read yet.</summary>
    public int Buffered => _readEnd - _readStart;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>From here until <see cref="EndBatchAsync"/>, records are gathered into large sends.</summary>
    public void BeginBatch() => _batching = true;

    /// <summary>Sends what the batch gathered and ends it.</summary>
    public async ValueTask EndBatchAsync(CancellationToken ct)
    {
        _batching = false;
        await SendBatchAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Ends a batch whose write failed, dropping what it gathered.</summary>
    public void AbandonBatch()
    {
        _batching = false;
        _batched = 0;
    }

    /// <summary>The bytes received ahead that SslStream has not asked for (they belong to whatever follows the TLS records); the read-ahead is empty after.</summary>
    public ReadOnlySpan<byte> TakeReadAhead()
    {
        var rest = _readAhead.AsSpan(_readStart, _readEnd - _readStart);
        _readStart = _readEnd;
        return rest;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (OneRecordPerRead && buffer.Length > 0)
        {
            return await ReadWithinRecordAsync(buffer, ct).ConfigureAwait(false);
        }
        if (_readStart == _readEnd)
        {
            if (buffer.Length == 0 || buffer.Length >= ReadAheadSize)
            {
                // A zero-byte read waits for data without a buffer; a large one needs no read-ahead.
                return await lowWater.ReceiveAsync(buffer, ct).ConfigureAwait(false);
            }
            _readStart = 0;
            _readEnd = await lowWater.ReceiveAsync(_readAhead, ct).ConfigureAwait(false);
            if (_readEnd == _readAhead.Length && _readAhead.Length < ReadAheadSize)
            {
                // It came full: bulk data (a piece). Larger read-ahead from the next receive on, up to the full size.
                var larger = new byte[Math.Min(ReadAheadSize, _readAhead.Length * 4)];
                _readAhead.AsSpan(0, _readEnd).CopyTo(larger);
                _readAhead = larger;
            }
        }
        var count = Math.Min(buffer.Length, _readEnd - _readStart);
        _readAhead.AsMemory(_readStart, count).CopyTo(buffer);
        _readStart += count;
        return count;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
    {
        if (!_batching)
        {
            await socket.WriteAsync(buffer, ct).ConfigureAwait(false);
            return;
        }
        if (_batched + buffer.Length > BufferSize)
        {
            await SendBatchAsync(ct).ConfigureAwait(false);
        }
        if (buffer.Length >= BufferSize)
        {
            await socket.WriteAsync(buffer, ct).ConfigureAwait(false);
            return;
        }
        _batch ??= new byte[BufferSize];
        buffer.CopyTo(_batch.AsMemory(_batched));
        _batched += buffer.Length;
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await SendBatchAsync(cancellationToken).ConfigureAwait(false);
        await socket.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // SslStream is used asynchronously only; the synchronous members exist because Stream requires them.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            socket.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>Serves bytes of the current record only (its 5-byte header says how long it is); 0 = the other side closed the connection.</summary>
    private async ValueTask<int> ReadWithinRecordAsync(Memory<byte> buffer, CancellationToken ct)
    {
        const int RecordHeader = 5;
        if (_recordLeft == 0)
        {
            while (_readEnd - _readStart < RecordHeader)
            {
                if (!await ReceiveMoreAsync(ct).ConfigureAwait(false))
                {
                    break; // closed: hand over what there is, SslStream reports the cut record
                }
            }
            var buffered = _readEnd - _readStart;
            if (buffered == 0)
            {
                return 0;
            }
            _recordLeft = buffered < RecordHeader
                ? buffered
                : RecordHeader + System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(_readAhead.AsSpan(_readStart + 3, 2));
        }
        if (_readStart == _readEnd && !await ReceiveMoreAsync(ct).ConfigureAwait(false))
        {
            return 0;
        }
        var count = Math.Min(Math.Min(buffer.Length, _readEnd - _readStart), _recordLeft);
        _readAhead.AsMemory(_readStart, count).CopyTo(buffer);
        _readStart += count;
        _recordLeft -= count;
        return count;
    }

    /// <summary>Receives more behind what the read-ahead holds (moved to its front first); false if the other side closed.</summary>
    private async ValueTask<bool> ReceiveMoreAsync(CancellationToken ct)
    {
        var buffered = _readEnd - _readStart;
        _readAhead.AsSpan(_readStart, buffered).CopyTo(_readAhead);
        _readStart = 0;
        _readEnd = buffered;
        if (_readEnd == _readAhead.Length)
        {
            Array.Resize(ref _readAhead, Math.Min(ReadAheadSize, _readAhead.Length * 4));
        }
        var n = await lowWater.ReceiveAsync(_readAhead.AsMemory(_readEnd), ct).ConfigureAwait(false);
        _readEnd += n;
        return n > 0;
    }

    private async ValueTask SendBatchAsync(CancellationToken ct)
    {
        if (_batched > 0)
        {
            var count = _batched;
            _batched = 0;
            await socket.WriteAsync(_batch!.AsMemory(0, count), ct).ConfigureAwait(false);
        }
    }
}
