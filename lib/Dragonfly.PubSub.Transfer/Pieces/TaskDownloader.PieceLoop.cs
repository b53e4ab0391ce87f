using System.Security.Cryptography;
using System.Threading.Channels;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Transfer.Swarm;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

// The piece loop: the one owner of the swarm state (parents, what is requested where), reacting
// to events until every piece is in and proven.
public sealed partial class TaskDownloader
{
    /// <summary>The owner loop: reacts to events until the whole file is in and hashed.</summary>
    private async Task<LoopEnd> LoopAsync(
        PiecePicker picker, Dictionary<int, List<Attempt>> attempts, HashSet<Attempt> running, long startedAt,
        ParentMapWatches? mapWatches, CancellationToken ct)
    {
        var reader = _events.Reader;
        TimeSpan? lastNeedParents = null;
        var parentSets = 0;
        while (true)
        {
            if (!await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                return new LoopEnd(null, "the download was stopped", Discard: false);
            }
            var now = _time.GetElapsedTime(startedAt);
            while (reader.TryRead(out var e))
            {
                switch (e)
                {
                    case ParentsChanged p:
                        picker.SetParents(p.Parents.Where(x => x.PeerId != _store.PeerId));
                        mapWatches?.Follow(p.Parents, ct);
                        parentSets++;
                        break;
                    case PiecesGained g:
                        picker.AddAvailable(g.PeerId, g.Indexes);
                        break;
                    case DigestsLearned l:
                        foreach (var index in l.Indexes)
                        {
                            picker.DigestKnown(index);
                        }
                        _persist.Writer.TryWrite(new PersistOp(PersistKind.DigestsChanged));
                        break;
                    case SourceAssigned s:
                        TransferLog.SourceStarted(_logger, Digest, s.Request.Source.Description);
                        _activeSource = s.Request;
                        picker.SetSource(true);
                        // The scheduler hears the digests of what this source already holds.
                        _persist.Writer.TryWrite(new PersistOp(PersistKind.ReportHeld));
                        break;
                    case SwarmFailed f:
                        return new LoopEnd(null, f.Error, Discard: true, SchedulerKnows: true, f.Kind);
                    case AttemptDone d:
                        if (OnAttemptDone(picker, attempts, running, d, now) is { } end)
                        {
                            return end;
                        }
                        break;
                    case Damaged d:
                        TransferLog.DamagedOnDisk(_logger, Digest, d.Index);
                        picker.MarkNotDone(d.Index);
                        _pieces.UnmarkPiece(Digest, d.Index);
                        Volatile.Write(ref _claims[d.Index], 0);
                        _persist.Writer.TryWrite(new PersistOp(PersistKind.NotDone, d.Index));
                        break;
                    case Hashed h:
                        return new LoopEnd(h.Digest, null, Discard: false);
                    case Fatal f:
                        return new LoopEnd(null, f.Error, Discard: false);
                    case Tick:
                        // Pieces taken since the last save are saved once the interval has passed, even if no more come.
                        _persist.Writer.TryWrite(new PersistOp(PersistKind.Flush));
                        break;
                }
            }

            if (picker.AllDone)
            {
                // Every piece is written: cancel endgame duplicates; the hasher finishes the rest.
                foreach (var attempt in running)
                {
                    attempt.Cancel();
                }
                continue;
            }
            while (picker.TryPick(now, out var index, out var parent))
            {
                if (Volatile.Read(ref _firstRequestTicks) == 0)
                {
                    // Milliseconds, as the record keeps it and the task JSON shows it.
                    var at = _time.GetUtcNow().UtcDateTime;
                    at = new DateTime(at.Ticks - (at.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);
                    Volatile.Write(ref _firstRequestTicks, at.Ticks);
                    _record.FirstPieceRequestedAt = at;
                }
                var attempt = new Attempt(index, parent, CancellationTokenSource.CreateLinkedTokenSource(ct), parent.Source ? _activeSource : null);
                running.Add(attempt);
                if (!attempts.TryGetValue(index, out var list))
                {
                    attempts[index] = list = [];
                }
                list.Add(attempt);
                AgentMetrics.PiecesInFlight.Inc();
                attempt.Task = attempt.Source is not null
                    ? Task.Run(() => FetchFromSourceAsync(attempt))
                    : Task.Run(() => FetchAsync(attempt));
            }
            if (picker.InFlight == 0)
            {
                // Starved: nothing any parent holds can be fetched now. Give a fresh registration a
                // moment to get its first parent set before asking.
                var due = lastNeedParents is { } last
                    ? now - last >= NeedParentsInterval
                    : parentSets > 0 || now >= NeedParentsInterval;
                if (due)
                {
                    lastNeedParents = now;
                    TransferLog.NeedParents(_logger, Digest, picker.ActiveParents);
                    _reporter.NeedParents(Digest);
                }
            }
        }
    }

    private LoopEnd? OnAttemptDone(PiecePicker picker, Dictionary<int, List<Attempt>> attempts, HashSet<Attempt> running, AttemptDone done, TimeSpan now)
    {
        var attempt = done.Attempt;
        running.Remove(attempt);
        attempt.Dispose();
        AgentMetrics.PiecesInFlight.Dec();
        if (attempts.TryGetValue(attempt.Index, out var list))
        {
            list.Remove(attempt);
            if (list.Count == 0)
            {
                attempts.Remove(attempt.Index);
            }
        }
        var status = done.Outcome switch
        {
            AttemptOutcome.Written or AttemptOutcome.Duplicate => FetchStatus.Ok,
            AttemptOutcome.Corrupt => FetchStatus.Corrupt,
            AttemptOutcome.Missing => FetchStatus.Missing,
            AttemptOutcome.Busy => FetchStatus.Busy,
            AttemptOutcome.Full => FetchStatus.Full,
            AttemptOutcome.Unreachable => FetchStatus.Unreachable,
            _ => FetchStatus.Canceled,
        };
        picker.Finished(attempt.Index, attempt.Parent.PeerId, status, now);
        switch (done.Outcome)
        {
            case AttemptOutcome.Written:
                picker.MarkDone(attempt.Index);
                if (attempts.TryGetValue(attempt.Index, out var others))
                {
                    foreach (var other in others)
                    {
                        other.Cancel(); // first verified copy wins
                    }
                }
                break;
            case AttemptOutcome.Corrupt:
                AgentMetrics.PieceVerifyFailures.Inc();
                Report(attempt, FailureKind.Corrupt);
                break;
            case AttemptOutcome.Missing:
                AgentMetrics.PieceFetchFailures.Inc();
                Report(attempt, FailureKind.Missing);
                break;
            case AttemptOutcome.Unreachable:
                AgentMetrics.PieceFetchFailures.Inc();
                Report(attempt, FailureKind.Unreachable);
                break;
            case AttemptOutcome.SourceUnavailable when ReferenceEquals(attempt.Source, _activeSource):
                // Its retries are spent: peers may still have it all; the scheduler may name another source.
                var reason = done.Error ?? "the origin is unavailable";
                TransferLog.SourceGaveUp(_logger, Digest, attempt.Source!.Source.Description, false, reason);
                _reporter.SourceFailed(Digest, reason, false, done.Attempt.SourceFailureKind);
                _droppedSource = _activeSource;
                _activeSource = null;
                picker.SetSource(false);
                break;
            case AttemptOutcome.SourceRefused or AttemptOutcome.SourceChanged when ReferenceEquals(attempt.Source, _activeSource):
                var refusal = done.Error ?? "the origin refused the request";
                TransferLog.SourceGaveUp(_logger, Digest, attempt.Source!.Source.Description, true, refusal);
                _reporter.SourceFailed(Digest, refusal, true, done.Attempt.SourceFailureKind);
                return new LoopEnd(null, refusal, Discard: true, SchedulerKnows: true, done.Attempt.SourceFailureKind);
            case AttemptOutcome.Fatal:
                return new LoopEnd(null, done.Error ?? "writing a piece failed", Discard: false);
        }
        return null;
    }

    private void Report(Attempt attempt, FailureKind kind)
    {
        if (kind == FailureKind.Corrupt)
        {
            TransferLog.PieceCorrupt(_logger, Digest, attempt.Index, attempt.Parent.PeerId);
        }
        else
        {
            TransferLog.PieceFailed(_logger, Digest, attempt.Index, attempt.Parent.PeerId, kind);
        }
        _reporter.PieceFailed(Digest, attempt.Index, attempt.Parent.PeerId, kind);
    }

    private async Task DrainAttemptsAsync(PiecePicker picker, HashSet<Attempt> running)
    {
        foreach (var attempt in running)
        {
            attempt.Cancel();
        }
        foreach (var attempt in running.ToList())
        {
            if (attempt.Task is { } task)
            {
                await task.ConfigureAwait(false);
            }
            AgentMetrics.PiecesInFlight.Dec();
            attempt.Dispose();
        }
        running.Clear();
        // Their results are still queued: written pieces are already in the persist queue.
        while (_events.Reader.TryRead(out var e))
        {
            if (e is AttemptDone d && d.Outcome == AttemptOutcome.Written)
            {
                picker.MarkDone(d.Attempt.Index);
            }
        }
    }

    private sealed class Attempt(int index, PiecePicker.ParentRef parent, CancellationTokenSource cts, SourceRequest? source) : IDisposable
    {
        private int _disposed;

        public int Index { get; } = index;
        public PiecePicker.ParentRef Parent { get; } = parent;
        public CancellationToken Token { get; } = cts.Token;
        public Task? Task { get; set; }

        /// <summary>The origin this attempt reads from; null for a peer.</summary>
        public SourceRequest? Source { get; } = source;

        /// <summary>Why the source gave up, when it did (set by the attempt's own task before it reports done).</summary>
        public TaskErrorKind SourceFailureKind { get; set; }

        public void Cancel()
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                try
                {
                    cts.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                cts.Dispose();
            }
        }
    }

    private enum AttemptOutcome
    {
        Written,
        Duplicate,
        Corrupt,
        Missing,
        Busy,
        Full,
        Unreachable,
        Canceled,
        Fatal,

        /// <summary>The source gave up after its retries: drop it, carry on with peers.</summary>
        SourceUnavailable,

        /// <summary>The origin answered for good (not found, refused, changed size): the task fails.</summary>
        SourceRefused,

        /// <summary>The origin sent a piece that differs from the digest the swarm already has.</summary>
        SourceChanged,
    }

    /// <param name="SchedulerKnows">The failure came from the scheduler or was already reported to it.</param>
    private readonly record struct LoopEnd(byte[]? Digest, string? Error, bool Discard, bool SchedulerKnows = false,
        TaskErrorKind ErrorKind = TaskErrorKind.Other);

    private abstract record LoopEvent;

    private sealed record ParentsChanged(ParentPeer[] Parents) : LoopEvent;

    private sealed record PiecesGained(string PeerId, int[] Indexes) : LoopEvent;

    private sealed record DigestsLearned(int[] Indexes) : LoopEvent;

    private sealed record SourceAssigned(SourceRequest Request) : LoopEvent;

    private sealed record SwarmFailed(string Error, TaskErrorKind Kind) : LoopEvent;

    private sealed record AttemptDone(Attempt Attempt, AttemptOutcome Outcome, string? Error) : LoopEvent;

    private sealed record Damaged(int Index) : LoopEvent;

    private sealed record Hashed(byte[] Digest) : LoopEvent;

    private sealed record Fatal(string Error) : LoopEvent;

    private sealed record Tick : LoopEvent
    {
        public static Tick Instance { get; } = new();
    }
}
