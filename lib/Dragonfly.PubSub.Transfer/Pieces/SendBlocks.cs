using System.Collections.Concurrent;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The blocks a piece server reads a range into before it writes them to a TLS (or plain, non-sendfile) stream:
/// each exactly a response header plus one chunk, so that a 1 MiB piece goes out in whole chunks with the header
/// riding in the first. The shared <c>ArrayPool</c> rounds sizes up to a power of two (a chunk plus a header came
/// back twice as large, and the range then went out as two large writes and a 5-byte one); this pool keeps at most
/// <paramref name="keep"/> free blocks, one per upload slot.
/// </summary>
internal sealed class SendBlocks(int chunk, int keep)
{
    private readonly ConcurrentQueue<byte[]> _free = new();

    /// <summary>Payload bytes per block (after the header's room in the first).</summary>
    public int Chunk { get; } = chunk;

    public byte[] Rent() => _free.TryDequeue(out var block) ? block : GC.AllocateUninitializedArray<byte>(PieceProtocol.ResponseHeaderLength + Chunk);

    public void Return(byte[] block)
    {
        if (_free.Count < keep)
        {
            _free.Enqueue(block);
        }
    }
}
