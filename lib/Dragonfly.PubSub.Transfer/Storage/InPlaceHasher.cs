using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>
/// Builds the manifest of a file where it lies, reading it once: the whole-file SHA-256 runs on
/// the reading thread while each piece's SHA-256 runs beside it on another core, so publishing
/// takes about one hashing pass of wall time, not two. A few piece buffers are in use at once.
/// The whole-file hash also leaves its state after each piece in the manifest (<c>piece_chain</c>,
/// <see cref="ChainRecordingHash"/>), at no extra cost, so that a download which must prove the whole file
/// does it in the same pass that checks its pieces.
/// </summary>
internal static class InPlaceHasher
{
    private const int Buffers = 3;

    public static async Task<Manifest> BuildAsync(SafeFileHandle file, long size, string name, int pieceSize,
        IProgress<long>? progress, CancellationToken ct)
    {
        var layout = PieceLayout.For(size, pieceSize);
        var digests = new byte[layout.PieceCount][];
        var buffers = new byte[Buffers][];
        var hashing = new Task?[Buffers];
        using var whole = new ChainRecordingHash(layout);
        long done = 0;
        try
        {
            for (var index = 0; index < layout.PieceCount; index++)
            {
                ct.ThrowIfCancellationRequested();
                var slot = index % Buffers;
                if (hashing[slot] is { } previous)
                {
                    await previous.ConfigureAwait(false);
                }
                var buffer = buffers[slot] ??= GC.AllocateUninitializedArray<byte>(layout.PieceSize);
                var length = layout.LengthOf(index);
                ReadExactly(file, buffer.AsSpan(0, length), layout.OffsetOf(index));
                var i = index;
                hashing[slot] = Task.Run(() => digests[i] = SHA256.HashData(buffer.AsSpan(0, length)), ct);
                whole.AppendPiece(index, buffer.AsSpan(0, length));
                done += length;
                progress?.Report(done);
            }
        }
        finally
        {
            // No piece hash may still read a buffer once this returns (or throws).
            await Task.WhenAll(hashing.OfType<Task>()).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await Task.WhenAll(hashing.OfType<Task>()).ConfigureAwait(false);
        if (RandomAccess.GetLength(file) != size)
        {
            throw new IOException("the file changed size while it was read; publish it again once it is complete");
        }
        var manifest = new Manifest
        {
            Name = name,
            Size = size,
            PieceSize = layout.PieceSize,
            Digest = ContentDigest.FromHash(whole.Finish()).ToString(),
        };
        manifest.PieceDigests.AddRange(digests.Select(d => ByteString.CopyFrom(d)));
        manifest.PieceChain.AddRange(whole.Chain);
        return manifest;
    }

    private static void ReadExactly(SafeFileHandle file, Span<byte> destination, long offset)
    {
        var done = 0;
        while (done < destination.Length)
        {
            var n = RandomAccess.Read(file, destination[done..], offset + done);
            if (n <= 0)
            {
                throw new IOException("the file ended early: it changed size while it was read; publish it again once it is complete");
            }
            done += n;
        }
    }
}
