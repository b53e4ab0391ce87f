namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// Bounds concurrent uploads and the queue in front of them. A request that would wait behind a
/// full queue is turned away ("busy") instead: the requester is better served by another parent
/// or another piece than by a long wait here. Thread-safe.
/// </summary>
internal sealed class SendGate(int slots)
{
    private readonly SemaphoreSlim _slots = new(slots, slots);
    private int _waiting;

    public int Slots { get; } = slots;

    /// <summary>Takes a slot, waiting while fewer than <see cref="Slots"/> others wait; false when the queue is full.</summary>
    public async ValueTask<bool> TryEnterAsync(CancellationToken ct)
    {
        if (_slots.Wait(0))
        {
            return true;
        }
        if (Interlocked.Increment(ref _waiting) > Slots)
        {
            Interlocked.Decrement(ref _waiting);
            return false;
        }
        try
        {
            await _slots.WaitAsync(ct).ConfigureAwait(false);
            return true;
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    public void Release() => _slots.Release();
}
