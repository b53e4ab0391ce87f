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

// The persister: takes finished pieces as they come (as many per pass as finished meanwhile, at most
// 256), tells the scheduler of them at once, and writes them into the record in LiteDB at most every
// TransferOptions.RecordSaveInterval; the progress it raises is what the record holds.
public sealed partial class TaskDownloader
{
    /// <summary>
    /// Takes finished pieces: reported to the scheduler at once, saved into the record at most every
    /// <see cref="TransferOptions.RecordSaveInterval"/> (the loop's tick flushes what waits; pieces from the
    /// origin at once), and everything left at the end.
    /// </summary>
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
            // No waiting window: what finishes while a pass runs is the next batch, so batches grow with the
            // rate by themselves, and no piece's report to the scheduler waits for a timer.
            while (batch.Count < PersistBatch && reader.TryRead(out var op))
            {
                batch.Add(op);
            }
            error ??= PersistSafely(state, batch, finished, sourced, final: false);
            batch.Clear();
            finished.Clear();
            sourced.Clear();
        }
        // What was taken since the last save, and digests learned since (no piece of theirs done yet).
        if (error is null && (state.Unsaved || (_urlTask && Volatile.Read(ref _digestVersion) != state.SavedVersion)))
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
                    state.Unsaved = true;
                    // A piece from the origin is saved at once: fetching it again after a crash would cost the
                    // origin a second copy, and origin pieces come slowly enough for a save each.
                    state.SourcedUnsaved |= op.FromSource > 0;
                    (op.FromSource > 0 ? sourced : finished).Add(op.Index);
                    // A piece recorded as done must have its digest in the record, or a resume cannot verify it.
                    state.DigestsBehind |= _urlTask && !state.SavedDigests[op.Index];
                    break;
                case PersistKind.NotDone when state.Done[op.Index]:
                    state.Done[op.Index] = false;
                    state.Count--;
                    state.Bytes -= _layout.LengthOf(op.Index);
                    state.Unsaved = true;
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

        // The scheduler first: a piece on disk and verified can be served now, whether or not the record
        // holds it yet (after a crash the agent joins again with what its record holds).
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

        // Learned digests alone (no piece of theirs done) are written at most every ManifestSaveInterval: a URL
        // task's digests arrive all the time, and each would otherwise cost a save of an unchanged record.
        var version = Volatile.Read(ref _digestVersion);
        int? manifestVersion = _urlTask && version != state.SavedVersion
            && (state.DigestsBehind || final || _time.GetElapsedTime(state.ManifestSavedAt) >= ManifestSaveInterval)
            ? version
            : null;
        if (!(state.Unsaved || manifestVersion is not null)
            || !(final || state.SourcedUnsaved || _time.GetElapsedTime(state.SavedAt) >= _options.RecordSaveInterval))
        {
            return null;
        }
        return Save(state, manifestVersion);
    }

    /// <summary>
    /// Writes the pieces taken so far into the record, with the manifest as of <paramref name="manifestVersion"/>
    /// when it is due, then raises them as progress.
    /// </summary>
    private string? Save(PersistState state, int? manifestVersion)
    {
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
        if (manifestVersion is int due)
        {
            _record.ManifestBytes = BuildManifestBytes(state.SavedDigests, null);
            state.SavedVersion = due;
            state.ManifestSavedAt = _time.GetTimestamp();
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
        state.Unsaved = false;
        state.SourcedUnsaved = false;
        state.DigestsBehind = false;
        state.SavedAt = _time.GetTimestamp();
        var progress = new DownloadProgress(state.Count, _layout.PieceCount, state.Bytes, _record.BytesFromPeers, _record.BytesFromSource);
        SetProgress(progress);
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

        /// <summary>When the record was last saved (a timestamp of the download's clock).</summary>
        public long SavedAt { get; set; }

        /// <summary>Pieces taken (done or undone) that the record does not hold yet.</summary>
        public bool Unsaved { get; set; }

        /// <summary>A piece from the origin taken since the last save: saved at once.</summary>
        public bool SourcedUnsaved { get; set; }

        /// <summary>A piece taken since the last save whose digest the record's manifest lacks (URL tasks).</summary>
        public bool DigestsBehind { get; set; }
    }

    private enum PersistKind
    {
        Done,
        NotDone,

        /// <summary>Digests were learned: the record's manifest is behind.</summary>
        DigestsChanged,

        /// <summary>This download became the source: report every piece held, with its digest.</summary>
        ReportHeld,

        /// <summary>The loop's tick: save what waits if the save interval has passed.</summary>
        Flush,
    }

    private readonly record struct PersistOp(PersistKind Kind, int Index = -1, long FromPeers = 0, long FromSource = 0);
}
