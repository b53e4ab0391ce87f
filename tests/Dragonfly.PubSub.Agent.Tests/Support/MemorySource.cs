using System.Collections.Concurrent;
using Dragonfly.PubSub.Transfer.Sources;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>An <see cref="IPieceSource"/> over bytes in memory that counts its reads and how many overlap.</summary>
public sealed class MemorySource(byte[] bytes, TimeSpan? delay = null) : IPieceSource
{
    private int _running;
    private int _maxRunning;

    public string Description => "memory://test/object.bin";

    /// <summary>Decides, per read offset, to fail it (return the exception) or let it pass (null).</summary>
    public Func<long, Exception?>? FailAt { get; init; }

    public ConcurrentQueue<long> Offsets { get; } = new();

    public int Reads => Offsets.Count;

    public int MaxConcurrentReads => Volatile.Read(ref _maxRunning);

    public async Task ReadAsync(long offset, Memory<byte> destination, CancellationToken ct)
    {
        var now = Interlocked.Increment(ref _running);
        try
        {
            int seen;
            while (now > (seen = Volatile.Read(ref _maxRunning)) && Interlocked.CompareExchange(ref _maxRunning, now, seen) != seen)
            {
            }
            if (delay is { } wait)
            {
                await Task.Delay(wait, ct);
            }
            if (FailAt?.Invoke(offset) is { } error)
            {
                throw error;
            }
            Offsets.Enqueue(offset);
            bytes.AsSpan((int)offset, destination.Length).CopyTo(destination.Span);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}
