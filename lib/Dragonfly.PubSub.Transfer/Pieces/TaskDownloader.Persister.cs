using System.Buffers;
using System.Threading.Channels;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Transfer.Swarm;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

// The persister: writes finished pieces into the record in LiteDB, as many per save as finished while
// the previous save ran (at most 256), then makes them count: progress, and the scheduler told.
public sealed partial class TaskDownloader
{
    /// <summary>Writes finished pieces into the record, those that finished during the previous save together, and then makes them count.</summary>
    private async Task<string?> PersistLoopAsync(PersistState state)
    {
        var reader = _persist.Reader;
        var batch = new List<PersistOp>();
        var finished = new List<int>();
        var sourced = new List<int>();
        string? error = null;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // One reader: WaitToReadAsync's true means at least one operation to take.
            // No waiting window: what finishes while a save runs is the next batch, so batches grow with the
            // rate by themselves. (A 50 ms window cost a timer per batch, one wake-up of the timer thread
            // and one of the pool, and held every piece's report to the scheduler back by up to 50 ms.)
            while (batch.Count < PersistBatch && reader.TryRead(out var op))
            {
                batch.Add(op);
            }
            error ??= PersistSafely(state, batch, finished, sourced, final: false);
            batch.Clear();
            finished.Clear();
            sourced.Clear();
        }
        // Digests learned since the last save (no piece of theirs done yet) are kept too.
        if (error is null && _urlTask && Volatile.Read(ref _digestVersion) != state.SavedVersion)
        {
            error = PersistSafely(state, batch, finished, sourced, final: true);
        }
        return error;
    }

    private string? PersistSafely(PersistState state, List<PersistOp> batch, List<int> finished, List<int> sourced, bool final)
    {
        try
        {
            return Persist(state, batch, finished, sourced, final);
        }
        catch (Exception e)
        {
            var error = $"recording progress failed unexpectedly: {e.GetType().Name}: {e.Message}";
            _events.Writer.TryWrite(new Fatal(error));
            return error;
        }
    }

    private string? Persist(PersistState state, List<PersistOp> batch, List<int> finished, List<int> sourced, bool final)
    {
        List<int>? held = null;
        var digestsBehind = false;
        foreach (var op in batch)
        {
            switch (op.Kind)
            {
                case PersistKind.Done when !state.Done[op.Index]:
                    state.Done[op.Index] = true;
                    state.Count++;
                    state.Bytes += _layout.LengthOf(op.Index);
                    state.FromPeers += op.FromPeers;
                    state.FromSource += op.FromSource;
                    (op.FromSource > 0 ? sourced : finished).Add(op.Index);
                    // A piece recorded as done must have its digest in the record, or a resume cannot verify it.
                    digestsBehind |= _urlTask && !state.SavedDigests[op.Index];
                    break;
                case PersistKind.NotDone when state.Done[op.Index]:
                    state.Done[op.Index] = false;
                    state.Count--;
                    state.Bytes -= _layout.LengthOf(op.Index);
                    finished.Remove(op.Index);
                    sourced.Remove(op.Index);
                    break;
                case PersistKind.ReportHeld:
                    // What was done when this download became the source; later pieces report themselves.
                    held = [];
                    for (var i = 0; i < state.Done.Length; i++)
                    {
                        if (state.Done[i])
                        {
                            held.Add(i);
                        }
                    }
                    break;
            }
        }
        var bitmap = new PieceBitmap(_layout.PieceCount);
        for (var i = 0; i < state.Done.Length; i++)
        {
            if (state.Done[i])
            {
                bitmap.Set(i);
            }
        }
        _record.Bitmap = bitmap.ToBytes();
        _record.BytesFromPeers = state.BaseFromPeers + state.FromPeers;
        _record.BytesFromSource = state.BaseFromSource + state.FromSource;
        _record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
        if (_urlTask)
        {
            var version = Volatile.Read(ref _digestVersion);
            if (version != state.SavedVersion
                && (digestsBehind || final || _time.GetElapsedTime(state.ManifestSavedAt) >= ManifestSaveInterval))
            {
                _record.ManifestBytes = BuildManifestBytes(state.SavedDigests, null);
                state.SavedVersion = version;
                state.ManifestSavedAt = _time.GetTimestamp();
            }
        }
        try
        {
            _store.Save(_record);
        }
        catch (Exception e) when (DiskFull.Is(e))
        {
            var full = DiskFullError("saving progress", e);
            _events.Writer.TryWrite(new Fatal(full));
            return full;
        }
        catch (Exception e) when (e is LiteDB.LiteException or IOException or ObjectDisposedException)
        {
            _events.Writer.TryWrite(new Fatal($"cannot save progress in the agent database: {e.Message}"));
            return e.Message;
        }
        var progress = new DownloadProgress(state.Count, _layout.PieceCount, state.Bytes, _record.BytesFromPeers, _record.BytesFromSource);
        SetProgress(progress);
        if (finished.Count > 0)
        {
            _reporter.PiecesFinished(Digest, finished.ToArray(), ServedBy(finished));
        }
        if (held is not null)
        {
            // Everything held, not only what came from the origin: a scheduler that lost the task learns it again.
            sourced.AddRange(held.Where(i => state.Done[i] && !sourced.Contains(i) && Volatile.Read(ref _digests[i]) is not null));
        }
        if (sourced.Count > 0)
        {
            _reporter.PiecesSourced(Digest, sourced.ToArray(), sourced.Select(i => Volatile.Read(ref _digests[i])!).ToArray());
        }
        RaiseProgress(progress);
        return null;
    }

    private sealed class PersistState(PieceBitmap done, long bytes, bool[] savedDigests, int savedVersion)
    {
        public bool[] Done { get; } = Enumerable.Range(0, done.PieceCount).Select(i => done[i]).ToArray();
        public int Count { get; set; } = done.CountSet;
        public long Bytes { get; set; } = bytes;
        public long BaseFromPeers { get; init; }
        public long FromPeers { get; set; }
        public long BaseFromSource { get; init; }
        public long FromSource { get; set; }

        /// <summary>Which digests the record's manifest holds (URL tasks).</summary>
        public bool[] SavedDigests { get; } = savedDigests;

        /// <summary>The digest version the record's manifest was built at.</summary>
        public int SavedVersion { get; set; } = savedVersion;

        public long ManifestSavedAt { get; set; }
    }

    private enum PersistKind
    {
        Done,
        NotDone,

        /// <summary>Digests were learned: the record's manifest is behind.</summary>
        DigestsChanged,

        /// <summary>This download became the source: report every piece held, with its digest.</summary>
        ReportHeld,
    }

    private readonly record struct PersistOp(PersistKind Kind, int Index = -1, long FromPeers = 0, long FromSource = 0);
}
