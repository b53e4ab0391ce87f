using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Transfer.Swarm;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

// One piece attempt, from a peer or from the source: fetched into a pooled buffer, verified while
// it streams, written at its offset, handed to the hasher and the persister.
public sealed partial class TaskDownloader
{
    /// <summary>
    /// Runs one attempt on a pooled piece buffer and reports how it ended to the loop. The buffer goes
    /// back to the pool unless the attempt handed it on (<c>Keep</c>: written and queued for hashing);
    /// a write failure fails the task, and so does a bug, rather than leave the loop waiting forever.
    /// </summary>
    private async Task RunAttemptAsync(Attempt attempt, string from,
        Func<byte[], Task<(AttemptOutcome Outcome, string? Error, bool Keep)>> body)
    {
        var buffer = _fetcher.RentBuffer(_layout.PieceSize);
        var keep = false;
        AttemptOutcome outcome;
        string? error;
        try
        {
            (outcome, error, keep) = await body(buffer).ConfigureAwait(false);
        }
        catch (Exception e) when (DiskFull.Is(e))
        {
            outcome = AttemptOutcome.Fatal;
            error = DiskFullError($"writing piece {attempt.Index}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            outcome = AttemptOutcome.Fatal;
            error = $"cannot write piece {attempt.Index} to the partial file: {e.Message}";
        }
        catch (Exception e)
        {
            outcome = AttemptOutcome.Fatal;
            error = $"fetching piece {attempt.Index} from {from} failed unexpectedly: {e.GetType().Name}: {e.Message}";
        }
        finally
        {
            if (!keep)
            {
                _fetcher.ReturnBuffer(buffer);
            }
        }
        _events.Writer.TryWrite(new AttemptDone(attempt, outcome, error));
    }

    /// <summary>One request to a peer: fetch into a pooled buffer, verify, and (first copy only) write and hand on.</summary>
    private Task FetchAsync(Attempt attempt) => RunAttemptAsync(attempt, attempt.Parent.PeerId, async buffer =>
    {
        var index = attempt.Index;
        var length = _layout.LengthOf(index);
        if (Volatile.Read(ref _digests[index]) is not { } expected)
        {
            // Nothing could verify it yet: like a busy parent, ask again once the digest is known.
            return (AttemptOutcome.Busy, null, false);
        }
        var check = CheckingByChain ? PieceCheck.Chained(_chain!, _contentIdBytes, _layout, index) : PieceCheck.Digest(expected);
        var result = await _fetcher.FetchAsync(attempt.Parent.Host, attempt.Parent.Port, _key, _layout.OffsetOf(index),
            buffer.AsMemory(0, length), check, attempt.Token, _taskLimiter, attempt.Parent.PeerId).ConfigureAwait(false);
        var outcome = result.Status switch
        {
            FetchStatus.Ok => AttemptOutcome.Duplicate,
            FetchStatus.Corrupt => AttemptOutcome.Corrupt,
            FetchStatus.Missing => AttemptOutcome.Missing,
            FetchStatus.Busy => AttemptOutcome.Busy,
            FetchStatus.Full => AttemptOutcome.Full,
            FetchStatus.Unreachable => AttemptOutcome.Unreachable,
            _ => AttemptOutcome.Canceled,
        };
        if (result.ChainMismatch && SHA256.HashData(buffer.AsSpan(0, length)).AsSpan().SequenceEqual(expected))
        {
            // The bytes are the ones the (signed) piece digest names, yet the chain refuses them: the manifest's
            // two lists disagree. The chain is dropped for the rest of the run and the whole file is hashed at the
            // end, which decides (a forged manifest still fails there, a wrong chain alone costs a second pass).
            AbandonChain(index);
            result = FetchResult.Ok;
            outcome = AttemptOutcome.Duplicate;
        }
        var keep = false;
        if (result.Status == FetchStatus.Ok)
        {
            AgentMetrics.DownloadBytesFromPeers.Inc(length);
            NoteServedBy(index, attempt.Parent.PeerId);
            if (TryWrite(index, buffer, new PersistOp(PersistKind.Done, index, FromPeers: length), out keep))
            {
                outcome = AttemptOutcome.Written;
            }
        }
        return (outcome, null, keep);
    });

    /// <summary>A piece matched its digest but not the manifest's chain: check digests from now on and hash the file at the end.</summary>
    private void AbandonChain(int index)
    {
        if (Interlocked.CompareExchange(ref _proofUsed, (int)WholeFileProof.Sha256, (int)WholeFileProof.PieceChain)
            == (int)WholeFileProof.PieceChain)
        {
            TransferLog.ChainAbandoned(_logger, Digest, index);
        }
    }

    /// <summary>
    /// One ranged read from the origin: hash the piece, check it against a digest the swarm already
    /// knows, record the digest, then write and hand on like a piece from a peer.
    /// </summary>
    private Task FetchFromSourceAsync(Attempt attempt) => RunAttemptAsync(attempt, "the source", async buffer =>
    {
        var index = attempt.Index;
        var length = _layout.LengthOf(index);
        var (outcome, error, kind) = await ReadFromSourceAsync(attempt.Source!.Source, _layout.OffsetOf(index),
            buffer.AsMemory(0, length), attempt.Token).ConfigureAwait(false);
        if (outcome != AttemptOutcome.Duplicate)
        {
            attempt.SourceFailureKind = kind;
            return (outcome, error, false);
        }
        var digest = SHA256.HashData(buffer.AsSpan(0, length));
        var known = Interlocked.CompareExchange(ref _digests[index], digest, null);
        if (known is not null && !known.AsSpan().SequenceEqual(digest))
        {
            attempt.SourceFailureKind = TaskErrorKind.SourceChanged;
            return (AttemptOutcome.SourceChanged, $"the origin's content changed: piece {index} no longer matches", false);
        }
        if (known is null)
        {
            Interlocked.Increment(ref _digestVersion);
        }
        AgentMetrics.DownloadBytesFromSource.Inc(length);
        var keep = false;
        if (TryWrite(index, buffer, new PersistOp(PersistKind.Done, index, FromSource: length), out keep))
        {
            outcome = AttemptOutcome.Written;
        }
        return (outcome, null, keep);
    });

    /// <summary>Reads one piece from the source; <see cref="AttemptOutcome.Duplicate"/> means the bytes are in (not yet written).</summary>
    private async Task<(AttemptOutcome, string?, TaskErrorKind)> ReadFromSourceAsync(IPieceSource source, long offset, Memory<byte> destination, CancellationToken ct)
    {
        try
        {
            // Paid before the read, so a limit spaces the origin requests out instead of letting them burst.
            await _fetcher.Limiter.TakeAsync(destination.Length, ct).ConfigureAwait(false);
            if (_taskLimiter is not null)
            {
                await _taskLimiter.TakeAsync(destination.Length, ct).ConfigureAwait(false);
            }
            await source.ReadAsync(offset, destination, ct).ConfigureAwait(false);
            return (AttemptOutcome.Duplicate, null, TaskErrorKind.Other);
        }
        catch (PieceSourceException e)
        {
            return (e.Permanent ? AttemptOutcome.SourceRefused : AttemptOutcome.SourceUnavailable, e.Message, e.Kind);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return (AttemptOutcome.Canceled, null, TaskErrorKind.Other);
        }
        catch (Exception e)
        {
            // Not the source's contract: treat it as this source giving up, so the swarm can carry on.
            return (AttemptOutcome.SourceUnavailable, $"reading {source.Description} failed: {e.GetType().Name}: {e.Message}", TaskErrorKind.Unavailable);
        }
    }

    /// <summary>
    /// Writes a verified piece unless another copy got there first (a late duplicate never touches a
    /// finished piece), then serves, hashes and persists it. Returns whether this copy was written;
    /// <paramref name="keep"/> says the hasher took the buffer.
    /// </summary>
    private bool TryWrite(int index, byte[] buffer, PersistOp op, out bool keep)
    {
        keep = false;
        if (Interlocked.CompareExchange(ref _claims[index], 1, 0) != 0)
        {
            return false;
        }
        try
        {
            // A sparse partial file takes its blocks as pieces land: stop before the disk is full.
            DiskFull.EnsureRoom(_partialDirectory, _layout.LengthOf(index));
            RandomAccess.Write(_file!, buffer.AsSpan(0, _layout.LengthOf(index)), _layout.OffsetOf(index));
        }
        catch
        {
            Volatile.Write(ref _claims[index], 0);
            throw;
        }
        _pieces.MarkPiece(Digest, index);
        keep = _hasher?.Written(index, buffer) ?? false;
        _persist.Writer.TryWrite(op);
        return true;
    }

    /// <summary>
    /// Notes that the disk is full (the outcome says so, and the task waits for space instead of
    /// failing for good) and words the one line the user sees.
    /// </summary>
    private string DiskFullError(string doing, Exception e)
    {
        Volatile.Write(ref _diskFull, 1);
        var reason = e.Message.Split('\n', 2)[0].Trim();
        return $"the disk holding {_partialDirectory} is full ({reason}) {doing} of {_record.Name}; "
            + "the verified pieces are kept and the download resumes by itself once space is free again "
            + "(delete files there, or let the agent evict its cache with --cache-size / --min-free)";
    }

    /// <summary>A <see cref="FetchFromSource"/> call: each one is a source of its own, so a replaced one's late failures are ignored.</summary>
    private sealed record SourceRequest(IPieceSource Source, ContentDigest? Expected);
}
