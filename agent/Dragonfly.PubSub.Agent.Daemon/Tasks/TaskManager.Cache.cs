using Dragonfly.PubSub.Agent.Cache;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Tasks;

// The cache's view of the tasks: what each stored file is to them (in use or evictable, last use),
// the eviction itself under the task lock, and downloads waiting for disk space.
public sealed partial class TaskManager
{
    /// <summary>A file without a task younger than this may belong to a publish or download that has not recorded it yet.</summary>
    private static readonly TimeSpan UnrecordedGrace = TimeSpan.FromMinutes(10);

    /// <summary>Some download stopped on a full disk and waits for space.</summary>
    internal bool AnyWaitingForSpace
    {
        get
        {
            lock (_gate)
            {
                return _tasks.Values.Any(e => e.WaitingForSpace);
            }
        }
    }

    /// <summary>Each stored file with its task's last use and, when it must stay, why.</summary>
    internal IReadOnlyList<CacheItem> CacheItems(IReadOnlyList<StoredFile> files)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        var items = new List<CacheItem>(files.Count);
        lock (_gate)
        {
            foreach (var file in files)
            {
                if (!_tasks.TryGetValue(file.Digest, out var entry))
                {
                    // Left by a crash or a task forgotten by hand, unless it is new: a publish links its
                    // content into the store just before it records the task.
                    var pin = now - file.ChangedAt < UnrecordedGrace ? "no task records it yet (a publish or download may be starting)" : null;
                    items.Add(new CacheItem(file, null, null, file.ChangedAt, pin));
                    continue;
                }
                items.Add(new CacheItem(file, entry.Record.Name, entry.Record.Topic, LastUsed(entry), PinOf(entry)));
            }
        }
        return items;
    }

    /// <summary>
    /// Removes a stored file the policy chose, unless its task became needed since: the task is
    /// forgotten (record, routing, served pieces) together with its files. Returns whether it went.
    /// </summary>
    internal bool Evict(CacheItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var digest = item.File.Digest;
        var leave = false;
        lock (_gate)
        {
            if (_tasks.TryGetValue(digest, out var entry))
            {
                if (PinOf(entry) is not null)
                {
                    return false;
                }
                _tasks.Remove(digest);
                _scheduler.Unroute(digest, entry.Inbox);
                entry.Inbox.Close();
                _pieces.Remove(digest);
                _store.Delete(digest);
                leave = entry.State == TaskStates.Succeeded;
                _content.Remove(digest);
            }
            else if (item.PinnedBecause is not null)
            {
                return false;
            }
            else
            {
                ContentStore.Remove(item.File);
            }
        }
        if (leave)
        {
            // The scheduler must stop sending peers here for pieces that are gone.
            _scheduler.Leave(digest);
        }
        return true;
    }

    /// <summary>Bytes the downloads stopped by a full disk still need.</summary>
    internal long BytesWaitingForSpace()
    {
        lock (_gate)
        {
            return _tasks.Values.Where(e => e.WaitingForSpace).Sum(Missing);
        }
    }

    /// <summary>
    /// Restarts downloads stopped by a full disk, oldest first, while what each still needs fits in
    /// <paramref name="budget"/> (free bytes above the floor). They resume from their verified pieces.
    /// </summary>
    internal void ResumeWaitingForSpace(long budget)
    {
        List<(TaskEntry Entry, long Missing)> resumed = [];
        lock (_gate)
        {
            foreach (var entry in _tasks.Values.Where(e => e.WaitingForSpace && e.State == TaskStates.Failed).OrderBy(e => e.Record.CreatedAt).ToList())
            {
                var missing = Missing(entry);
                if (missing + DiskFull.Reserve > budget)
                {
                    continue;
                }
                budget -= missing;
                ResetForRetry(entry, fresh: null);
                entry.Inbox.RequestRun();
                resumed.Add((entry, missing));
            }
        }
        foreach (var (entry, missing) in resumed)
        {
            CacheLog.ResumedAfterSpace(_logger, entry.Digest.ToString(), entry.Record.Name, ByteSize.Format(budget + missing), ByteSize.Format(missing));
            Notify(entry);
        }
    }

    /// <summary>The content was asked for again (under the lock): the cache keeps it longer.</summary>
    private void TouchLocked(TaskEntry entry)
    {
        if (entry.State != TaskStates.Succeeded)
        {
            // A running download owns its record; its end time counts as its use.
            return;
        }
        entry.Record.LastUsedAt = _time.GetUtcNow().UtcDateTime;
        _store.Save(entry.Record);
    }

    private DateTime LastUsed(TaskEntry entry)
    {
        var used = entry.Record.LastUsedAt is { } at && at > entry.Record.UpdatedAt ? at : entry.Record.UpdatedAt;
        return _pieces.LastServed(entry.Digest) is { } served && served > used ? served : used;
    }

    /// <summary>Why a task's files must stay (under the lock), or null when they may go.</summary>
    private static string? PinOf(TaskEntry entry) =>
        entry.State is TaskStates.Pending or TaskStates.Running ? "task in progress"
        : entry.WaitingForSpace ? "download waiting for disk space (its verified pieces are kept)"
        : entry.Waiters.Count > 0 ? "a download request waits on it"
        : entry.Placements > 0 ? "being placed at an output path"
        : null;

    private static long Missing(TaskEntry entry)
    {
        var record = entry.Record;
        var done = PieceBitmap.FromBytes(record.Bitmap ?? [], record.PieceCount).CountSet;
        return Math.Max(0, record.Size - ((long)done * record.PieceSize));
    }
}
