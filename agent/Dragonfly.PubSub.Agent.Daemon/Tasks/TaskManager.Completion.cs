using System.Security.Cryptography;
using Dragonfly.PubSub.Agent.Cache;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Google.Protobuf;
using PublishRequest = Dragonfly.PubSub.Client.PublishRequest;

namespace Dragonfly.PubSub.Agent.Tasks;

// A finished run: placing the content where it was asked for (hard links), answering the
// download requests waiting on it, and the final state.
public sealed partial class TaskManager
{
    /// <summary>Places the content everywhere it was asked for, then reports the final state.</summary>
    /// <param name="kind">Why <paramref name="error"/>, as data; null: as the downloader recorded it.</param>
    private async Task CompleteAsync(TaskEntry entry, string? error, TaskErrorKind? kind, CancellationToken stopping)
    {
        var placed = new HashSet<string>(StringComparer.Ordinal);
        if (error is null)
        {
            // Outputs announced while copying are picked up by the next round, until none is new.
            while (error is null && NextUnplaced(entry, placed) is { } output)
            {
                error = await TryPlaceAsync(entry, output, stopping).ConfigureAwait(false);
                kind = error is null ? kind : TaskErrorKind.Other; // the output's fault, not the content's
                placed.Add(output);
            }
        }
        DownloadWaiter[] waiters;
        lock (_gate)
        {
            // From here on new requests see the final state and are answered directly.
            entry.State = error is null ? TaskStates.Succeeded : TaskStates.Failed;
            entry.Record.Error = error;
            entry.Record.ErrorKind = error is null ? TaskErrorKind.Other : kind ?? entry.Record.ErrorKind;
            if (error is not null)
            {
                entry.Record.State = TaskState.Failed;
            }
            entry.Record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
            _store.Save(entry.Record);
            waiters = [.. entry.Waiters];
            entry.Waiters.Clear();
            // Until the outputs below are placed, the cache must not take the content away.
            entry.Placements++;
        }
        try
        {
            await AnswerAsync(entry, error, placed, waiters, stopping).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                entry.Placements--;
            }
        }
    }

    private async Task AnswerAsync(TaskEntry entry, string? error, HashSet<string> placed, DownloadWaiter[] waiters, CancellationToken stopping)
    {
        if (error is null)
        {
            // An output announced in the last instant before the state flipped.
            foreach (var output in NextUnplacedAll(entry, placed))
            {
                await PlaceAsync(entry, output, stopping).ConfigureAwait(false);
            }
        }
        AgentMetrics.Tasks.WithLabels(error is null ? "succeeded" : "failed").Inc();
        if (error is null)
        {
            AgentLog.TaskSucceeded(_logger, entry.Digest.ToString(), entry.Record.Name,
                string.Join(", ", placed.Concat(waiters.Select(w => w.Output).OfType<string>()).DefaultIfEmpty("the content store only")));
        }
        else
        {
            bool waitingForSpace;
            lock (_gate)
            {
                waitingForSpace = entry.WaitingForSpace;
            }
            if (waitingForSpace)
            {
                // Not the task's fault: it resumes from its pieces once the cache collector sees space.
                AgentMetrics.DiskFull.Inc();
                CacheLog.WaitingForSpace(_logger, entry.Digest.ToString(), entry.Record.Name, error);
            }
            else
            {
                AgentLog.TaskFailed(_logger, entry.Digest.ToString(), entry.Record.Name, error);
            }
            _scheduler.Leave(entry.Digest);
        }
        Notify(entry);
        foreach (var waiter in waiters)
        {
            await FinishWaiterAsync(entry, waiter, error, stopping).ConfigureAwait(false);
        }
    }

    /// <summary>Runs a placement counted in <see cref="TaskEntry.Placements"/> (raised by the caller under the lock).</summary>
    private async Task PlacedAsync(TaskEntry entry, Func<Task> place)
    {
        try
        {
            await place().ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                entry.Placements--;
            }
        }
    }

    private string? NextUnplaced(TaskEntry entry, HashSet<string> placed)
    {
        lock (_gate)
        {
            return entry.SubscriptionOutputs.FirstOrDefault(o => !placed.Contains(o));
        }
    }

    private List<string> NextUnplacedAll(TaskEntry entry, HashSet<string> placed)
    {
        lock (_gate)
        {
            return entry.SubscriptionOutputs.Where(o => !placed.Contains(o)).ToList();
        }
    }

    /// <summary>A download request went away (client gone, timed out): nothing is placed for it.</summary>
    internal void CancelWaiter(ContentDigest digest, DownloadWaiter waiter)
    {
        lock (_gate)
        {
            if (_tasks.TryGetValue(digest, out var entry))
            {
                entry.Waiters.Remove(waiter);
            }
        }
        waiter.Abandon();
    }

    private async Task FinishWaiterAsync(TaskEntry entry, DownloadWaiter waiter, string? error, CancellationToken stopping)
    {
        TaskErrorKind kind;
        lock (_gate)
        {
            kind = error is null ? TaskErrorKind.Other : entry.Record.ErrorKind;
        }
        if (error is null && (error = CheckExpected(entry, waiter, out var mismatch)) is not null)
        {
            kind = mismatch ? TaskErrorKind.DigestMismatch : TaskErrorKind.Other;
        }
        if (error is null && (error = await ProveByHashAsync(entry, waiter, stopping).ConfigureAwait(false)) is not null)
        {
            kind = TaskErrorKind.DigestMismatch;
        }
        if (waiter.Output is not null)
        {
            error ??= await TryPlaceAsync(entry, waiter.Output, stopping).ConfigureAwait(false);
        }
        TaskInfo info;
        lock (_gate)
        {
            info = ToInfo(entry) with
            {
                Path = waiter.Output ?? StorePath(entry),
                State = error is null ? TaskStates.Succeeded : TaskStates.Failed,
                Error = error,
                ErrorKind = error is null ? null : TaskErrorKinds.Name(kind),
            };
        }
        waiter.Finish(info);
    }

    /// <summary>
    /// A download request that names a digest, answered from content this process proved only by
    /// the manifest's piece digests (it joined after the run began): the stored file is hashed once
    /// before it is handed over, as a run with such a request would have done (see DownloadCoreAsync).
    /// A URL task's request without --digest takes the source's word, as the run did.
    /// </summary>
    private async Task<string?> ProveByHashAsync(TaskEntry entry, DownloadWaiter waiter, CancellationToken stopping)
    {
        ContentDigest wanted;
        lock (_gate)
        {
            if (entry.Proof != WholeFileProof.ManifestBinding || (entry.IsUrlTask && waiter.Expected is null)
                || (entry.IsUrlTask ? entry.Content : entry.Digest) is not { } content)
            {
                return null;
            }
            wanted = content;
        }
        byte[] hash;
        try
        {
            await using var stream = File.OpenRead(_content.ContentPath(entry.Digest));
            hash = await SHA256.HashDataAsync(stream, stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"could not read {entry.Digest} from the content store: {e.Message}";
        }
        if (!hash.AsSpan().SequenceEqual(wanted.ToBytes()))
        {
            return entry.IsUrlTask
                ? $"the content held for {entry.Digest} hashes to {ContentDigest.FromHash(hash)}, not to {wanted} as its source said; no file was written"
                : $"the content held for {entry.Digest} does not hash to it (the broker's manifest lists other pieces); no file was written";
        }
        lock (_gate)
        {
            entry.Proof = WholeFileProof.Sha256;
        }
        return null;
    }

    private async Task PlaceAsync(TaskEntry entry, string output, CancellationToken stopping)
    {
        if (await TryPlaceAsync(entry, output, stopping).ConfigureAwait(false) is { } error)
        {
            AgentLog.TaskFailed(_logger, entry.Digest.ToString(), entry.Record.Name, error);
        }
    }

    private async Task<string?> TryPlaceAsync(TaskEntry entry, string output, CancellationToken stopping)
    {
        try
        {
            // A hard link where it can: the output costs no copy (see ContentStore.PlaceAsync).
            await _content.PlaceAsync(entry.Digest, output, stopping).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"could not write {output}: {e.Message}";
        }
        catch (UserFacingException e)
        {
            // The cache evicted it between the request and the placement.
            return e.Message;
        }
    }
}
