using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Storage;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>The peer port's responses: a range from the store, by sendfile (plain TCP) or read and written (TLS).</summary>
public sealed partial class PieceServer
{
    /// <summary>
    /// Sends the range (<see cref="PieceStatus.Ok"/>), or sends nothing and says why: this agent
    /// does not hold all of it, (complete artifacts) it is already sending it to another peer, or
    /// its upload slots and the queue before them are full.
    /// </summary>
    private async ValueTask<PieceStatus> ServeRangeAsync(PeerStream stream, SendDeadline deadline, byte[] header, DigestKey key, long offset, int length, string requester)
    {
        if (!_pieces.TryResolve(key, offset, length, out _, out var complete))
        {
            return PieceStatus.Missing;
        }
        if (complete && !_seedSends.TryBegin(key, offset))
        {
            return PieceStatus.Busy;
        }
        if (complete && !_pieces.TryClaimFirstRound(key, offset, requester))
        {
            _seedSends.End(key, offset, sent: false);
            return PieceStatus.Busy;
        }
        var seedGate = complete ? _seedUploads : null;
        var sent = false;
        try
        {
            // Past a short queue the answer is "busy": the requester does better elsewhere than waiting here.
            if (seedGate is not null && !await seedGate.TryEnterAsync(_stop.Token).ConfigureAwait(false))
            {
                return PieceStatus.Full;
            }
            try
            {
                if (!await _uploads.TryEnterAsync(_stop.Token).ConfigureAwait(false))
                {
                    return PieceStatus.Full;
                }
                try
                {
                    using var file = OpenResolved(key, offset, length);
                    if (file is null || RandomAccess.GetLength(file) < offset + length)
                    {
                        return PieceStatus.Missing;
                    }
                    PieceProtocol.WriteResponseHeader(header, PieceStatus.Ok, length);
                    if (UseSendFile && stream is SocketPeerStream plain)
                    {
                        await SendFileAsync(plain, deadline, header, file, offset, length).ConfigureAwait(false);
                    }
                    else
                    {
                        await CopyAsync(stream, deadline, header, file, offset, length).ConfigureAwait(false);
                    }
                    Interlocked.Increment(ref _requestsServed);
                    sent = true;
                    return PieceStatus.Ok;
                }
                finally
                {
                    _uploads.Release();
                }
            }
            finally
            {
                seedGate?.Release();
            }
        }
        finally
        {
            if (complete)
            {
                _seedSends.End(key, offset, sent);
                if (!sent)
                {
                    _pieces.ReleaseFirstRound(key, offset, requester);
                }
            }
        }
    }

    /// <summary>Opens the file behind a range; a download may have just been renamed into the store, so look twice.</summary>
    private SafeFileHandle? OpenResolved(DigestKey key, long offset, int length)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (!_pieces.TryResolve(key, offset, length, out var path))
            {
                return null;
            }
            try
            {
                return ContentStore.OpenRead(path);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
            }
        }
        return null;
    }

    private async ValueTask SendFileAsync(SocketPeerStream socket, SendDeadline deadline, byte[] header, SafeFileHandle file, long offset, int length)
    {
        // The stream takes over the handle (disposing both is harmless); SendPacketsElement needs a stream.
        using var stream = new FileStream(file, FileAccess.Read, bufferSize: 0, isAsync: true);
        var headerLength = header.Length;
        var sent = 0;
        while (sent < length)
        {
            // Unlimited: a few large sendfile calls, each of which the client must take within the send timeout.
            var chunk = _limiter.IsUnlimited ? Math.Min(SendFileChunk, length - sent) : Math.Min(LimitedChunk, length - sent);
            await _limiter.TakeAsync(chunk, _stop.Token).ConfigureAwait(false);
            deadline.Arm();
            await socket.SendFileAsync(header, headerLength, stream, offset + sent, chunk).ConfigureAwait(false);
            deadline.Disarm();
            headerLength = 0;
            sent += chunk;
            AgentMetrics.UploadBytes.Inc(chunk);
        }
    }

    /// <summary>
    /// Reads the range into a pooled block and writes it (TLS, or plain without sendfile). The
    /// header rides in the first block so it does not cost a TLS record of its own.
    /// </summary>
    private async ValueTask CopyAsync(PeerStream stream, SendDeadline deadline, byte[] header, SafeFileHandle file, long offset, int length)
    {
        var blocks = _limiter.IsUnlimited ? _copyBlocks : _limitedBlocks;
        var buffer = blocks.Rent();
        try
        {
            header.CopyTo(buffer, 0);
            var headerLength = header.Length;
            var sent = 0;
            while (sent < length)
            {
                var want = Math.Min(blocks.Chunk, length - sent);
                var read = RandomAccess.Read(file, buffer.AsSpan(headerLength, want), offset + sent);
                if (read <= 0)
                {
                    throw new IOException("the file ended before the requested range");
                }
                await _limiter.TakeAsync(read, _stop.Token).ConfigureAwait(false);
                await deadline.WriteAsync(stream, buffer.AsMemory(0, headerLength + read), _stop.Token).ConfigureAwait(false);
                headerLength = 0;
                sent += read;
                AgentMetrics.UploadBytes.Inc(read);
            }
        }
        finally
        {
            blocks.Return(buffer);
        }
    }
}
