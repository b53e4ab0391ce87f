using System.Collections.Concurrent;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// What this agent can serve right now: complete artifacts and the verified pieces of downloads
/// in progress. Thread-safe and lock-free on the read path the <see cref="PieceServer"/> uses.
/// </summary>
public sealed class LocalPieces
{
    private readonly ConcurrentDictionary<DigestKey, Entry> _entries = new();
    private readonly TimeProvider _time;

    public LocalPieces(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
    }

    public int Count => _entries.Count;

    /// <summary>
    /// Raised (on the serving thread; keep it short) when a guarded file no longer has its stamp:
    /// its pieces are no longer served until it is added again.
    /// </summary>
    public event Action<ContentDigest>? GuardTripped;

    /// <param name="guard">
    /// The stamp <paramref name="path"/> must keep to be served: set for a file shared with its
    /// publisher by a hard link, which the publisher may change under the swarm.
    /// </param>
    /// <param name="firstCopy">The swarm's first copy (this agent publishes it): see <see cref="FirstRound"/>.</param>
    public void AddComplete(ContentDigest digest, PieceLayout layout, string path, FileStamp? guard = null, bool firstCopy = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Replace(DigestKey.From(digest), new Entry(layout, path, null, guard is null ? null : new Guard(digest, guard.Value))
        {
            Round = firstCopy ? new FirstRound(layout.PieceCount, _time) : null,
        });
    }

    /// <summary>Serves the pieces set in <paramref name="have"/> from <paramref name="path"/>; more follow with <see cref="MarkPiece"/>.</summary>
    public void AddPartial(ContentDigest digest, PieceLayout layout, string path, PieceBitmap have)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(have);
        var bits = new int[(layout.PieceCount + 31) / 32];
        for (var i = 0; i < Math.Min(have.PieceCount, layout.PieceCount); i++)
        {
            if (have[i])
            {
                bits[i >> 5] |= 1 << (i & 31);
            }
        }
        Replace(DigestKey.From(digest), new Entry(layout, path, bits, null));
    }

    /// <summary>A piece of a partial download was written and may be served. Unknown digests are ignored.</summary>
    public void MarkPiece(ContentDigest digest, int index)
    {
        if (_entries.TryGetValue(DigestKey.From(digest), out var entry) && entry.Bits is { } bits && (uint)index < (uint)entry.Layout.PieceCount)
        {
            var mask = 1 << (index & 31);
            if ((Interlocked.Or(ref bits[index >> 5], mask) & mask) == 0)
            {
                entry.Changed();
            }
        }
    }

    /// <summary>A piece turned out damaged on disk: stop serving it until it is written again.</summary>
    public void UnmarkPiece(ContentDigest digest, int index)
    {
        if (_entries.TryGetValue(DigestKey.From(digest), out var entry) && entry.Bits is { } bits && (uint)index < (uint)entry.Layout.PieceCount)
        {
            Interlocked.And(ref bits[index >> 5], ~(1 << (index & 31)));
            entry.Changed();
        }
    }

    /// <summary>The download finished and its file now lives at <paramref name="path"/>: serve all of it.</summary>
    /// <param name="firstCopy">The swarm's first copy (this agent fetched it from the origin as the task's source): see <see cref="FirstRound"/>.</param>
    public void MoveToComplete(ContentDigest digest, string path, bool firstCopy = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var key = DigestKey.From(digest);
        if (_entries.TryGetValue(key, out var entry))
        {
            // The last serve carries over: the cache's least-recently-used order must not see a finished
            // download as never used because its entry was replaced.
            Replace(key, new Entry(entry.Layout, path, null, null)
            {
                Round = firstCopy ? new FirstRound(entry.Layout.PieceCount, _time) : null,
                ServedAtTicks = Volatile.Read(ref entry.ServedAtTicks),
            });
        }
    }

    /// <summary>
    /// Whether the range starting at <paramref name="offset"/> may go to <paramref name="requester"/>
    /// now; false while a first copy's first round holds it for someone else (see <see cref="FirstRound"/>).
    /// </summary>
    internal bool TryClaimFirstRound(in DigestKey key, long offset, string requester) =>
        !_entries.TryGetValue(key, out var entry) || entry.Round is not { } round
        || round.TryClaim((int)(offset / entry.Layout.PieceSize), requester);

    /// <summary>A range claimed with <see cref="TryClaimFirstRound"/> did not go out.</summary>
    internal void ReleaseFirstRound(in DigestKey key, long offset, string requester)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.Round is { } round)
        {
            round.Release((int)(offset / entry.Layout.PieceSize), requester);
        }
    }

    public void Remove(ContentDigest digest)
    {
        if (_entries.TryRemove(DigestKey.From(digest), out var entry))
        {
            entry.Changed();
        }
    }

    /// <summary>
    /// The piece map of a task for a <see cref="PieceProtocol.MapMarker"/> poll: at once when its version is not
    /// <paramref name="knownVersion"/>, otherwise when it changes or after <paramref name="wait"/>. Null when the
    /// task is not here. The map is <see cref="PieceMap.Bytes"/> in the protocol's bit order.
    /// </summary>
    /// <param name="notBefore">A <see cref="TimeProvider.GetTimestamp"/> before which a change is not answered (the
    /// connection's previous answer plus its gap, <see cref="PieceProtocol.MapAnswerGapAfter"/>); 0 = at once.</param>
    internal async ValueTask<PieceMap?> WaitForMapAsync(DigestKey key, long knownVersion, TimeSpan wait, CancellationToken ct, long notBefore = 0)
    {
        var deadline = _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                return null;
            }
            // The signal first: a change after this line completes the task awaited below.
            var changed = entry.ChangeSignal;
            var map = entry.Map();
            var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                return map;
            }
            if (map.Version != knownVersion)
            {
                // Newer than the client's. The first change after a quiet spell is answered at once (the start of a
                // swarm, where every piece counts); later ones wait for the gap, and the pieces finished meanwhile
                // come along in the same answer: a parent finishes a piece every ~80 ms at 100 Mbit/s, and an
                // answer per piece to each of its children cost the swarm more CPU than the broker's merged news did.
                if (notBefore == 0 || _time.GetElapsedTime(_time.GetTimestamp(), notBefore) is not { Ticks: > 0 } hold)
                {
                    return map;
                }
                await Task.Delay(hold < PieceProtocol.MapAnswerGap ? hold : PieceProtocol.MapAnswerGap, _time, ct).ConfigureAwait(false);
                notBefore = 0;
                continue; // the map as it is after the wait (or null if the task went meanwhile)
            }
            try
            {
                await changed.WaitAsync(left, _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Answered with the same map on the next round: the client asks again on the same connection.
            }
        }
    }

    /// <summary>When a peer last got bytes of <paramref name="digest"/> from here (this process), or null.</summary>
    public DateTime? LastServed(ContentDigest digest) =>
        _entries.TryGetValue(DigestKey.From(digest), out var entry) && Volatile.Read(ref entry.ServedAtTicks) is > 0 and var ticks
            ? new DateTime(ticks, DateTimeKind.Utc)
            : null;

    public bool Contains(ContentDigest digest) => _entries.ContainsKey(DigestKey.From(digest));

    public bool IsComplete(ContentDigest digest) => _entries.TryGetValue(DigestKey.From(digest), out var entry) && entry.Bits is null;

    /// <summary>
    /// The file holding bytes [offset, offset+length) of an artifact, when every piece that range
    /// touches is here. Ranges are in bytes so a requester's piece size does not matter.
    /// </summary>
    internal bool TryResolve(in DigestKey key, long offset, int length, out string path) =>
        TryResolve(key, offset, length, out path, out _);

    /// <param name="complete">The artifact is complete here (this agent seeds it).</param>
    internal bool TryResolve(in DigestKey key, long offset, int length, out string path, out bool complete)
    {
        path = "";
        complete = false;
        if (!_entries.TryGetValue(key, out var entry) || length <= 0 || offset < 0 || offset > entry.Layout.Size - length)
        {
            return false;
        }
        if (entry.Bits is { } bits)
        {
            var first = (int)(offset / entry.Layout.PieceSize);
            var last = (int)((offset + length - 1) / entry.Layout.PieceSize);
            for (var i = first; i <= last; i++)
            {
                if ((Volatile.Read(ref bits[i >> 5]) & (1 << (i & 31))) == 0)
                {
                    return false;
                }
            }
        }
        if (entry.Guard is { } guard && FileStamp.Of(entry.Path) != guard.Stamp)
        {
            // Changed under the swarm: stop serving it at once; the owner re-verifies it.
            if (((ICollection<KeyValuePair<DigestKey, Entry>>)_entries).Remove(new KeyValuePair<DigestKey, Entry>(key, entry)))
            {
                entry.Changed();
                GuardTripped?.Invoke(guard.Digest);
            }
            return false;
        }
        path = entry.Path;
        complete = entry.Bits is null;
        // For the cache's least-recently-used order: serving to peers is a use.
        Volatile.Write(ref entry.ServedAtTicks, _time.GetUtcNow().UtcTicks);
        return true;
    }

    /// <summary>Puts <paramref name="entry"/> in place of the task's entry and wakes the polls of the old one.</summary>
    private void Replace(DigestKey key, Entry entry)
    {
        Entry? old = null;
        _entries.AddOrUpdate(key, entry, (_, previous) =>
        {
            old = previous;
            return entry;
        });
        old?.Changed();
    }

    /// <summary>A task's piece map as a poll answers it.</summary>
    /// <param name="Version"><see cref="PieceProtocol.CompleteMapVersion"/> when every piece is here.</param>
    internal readonly record struct PieceMap(long Version, byte[] Bytes);

    // Map versions come from one counter, so an entry that replaces another never repeats a version a poller holds.
    private static long s_mapVersions;

    /// <param name="Bits">Null when the artifact is complete.</param>
    /// <param name="Guard">The stamp a file shared with its publisher must keep; null when the store owns the file.</param>
    /// <param name="Round">Set while this complete artifact is the swarm's first copy.</param>
    private sealed record Entry(PieceLayout Layout, string Path, int[]? Bits, Guard? Guard)
    {
        public FirstRound? Round { get; init; }

        /// <summary>UTC ticks of the last serve; 0 = never. A field so the serving path can write it without a lock.</summary>
        public long ServedAtTicks;

        private long _version = Interlocked.Increment(ref s_mapVersions);
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the map changes (or the entry is replaced or removed).</summary>
        public Task ChangeSignal => Volatile.Read(ref _changed).Task;

        /// <summary>The map changed: a new version, and the polls waiting on the old one answered.</summary>
        public void Changed()
        {
            Volatile.Write(ref _version, Interlocked.Increment(ref s_mapVersions));
            Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        public PieceMap Map()
        {
            var bytes = new byte[(Layout.PieceCount + 7) / 8];
            if (Bits is not { } bits)
            {
                for (var i = 0; i < Layout.PieceCount; i++)
                {
                    bytes[i >> 3] |= (byte)(1 << (i & 7));
                }
                return new PieceMap(PieceProtocol.CompleteMapVersion, bytes);
            }
            // The version before the bits: a piece marked in between shows up now and again with the next version.
            var version = Volatile.Read(ref _version);
            for (var i = 0; i < bytes.Length; i++)
            {
                bytes[i] = (byte)(Volatile.Read(ref bits[i >> 2]) >> ((i & 3) * 8));
            }
            return new PieceMap(version, bytes);
        }
    }

    private sealed record Guard(ContentDigest Digest, FileStamp Stamp);
}
