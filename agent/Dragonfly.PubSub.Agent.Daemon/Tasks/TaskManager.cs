using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Google.Protobuf;

namespace Dragonfly.PubSub.Agent.Tasks;

/// <summary>
/// The agent's tasks: what announcements, publishes and download requests (by content id or by
/// URL) turn into. It owns the table of tasks (one lock, held only for bookkeeping; the work runs
/// outside it), starts a <see cref="TaskDownloader"/> per task, routes the scheduler's events to it
/// (parents, piece news, and for URL tasks piece digests, FetchSource, TaskSourced, TaskFailed),
/// and places finished content where it was asked for.
/// </summary>
public sealed partial class TaskManager : IHostedService, IDisposable
{
    private readonly AgentOptions _options;
    private readonly TransferOptions _transfer;
    private readonly AgentRuntime _runtime;
    private readonly AgentStore _store;
    private readonly ContentStore _content;
    private readonly LocalPieces _pieces;
    private readonly PieceFetcher _fetcher;
    private readonly SchedulerSession _scheduler;
    private readonly OriginClient _origins;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger<TaskManager> _logger;
    private readonly TimeProvider _time;
    private readonly AnnouncementSequences? _sequences;
    private readonly Lock _gate = new();
    private readonly Dictionary<ContentDigest, TaskEntry> _tasks = [];
    private readonly List<Task> _running = [];
    private readonly CancellationTokenSource _stopping = new();

    public TaskManager(AgentOptions options, TransferOptions transfer, AgentRuntime runtime, AgentStore store, ContentStore content,
        LocalPieces pieces, PieceFetcher fetcher, SchedulerSession scheduler, OriginClient origins, ILoggerFactory loggers, TimeProvider time,
        AnnouncementSequences? sequences = null)
    {
        _sequences = sequences;
        _options = options;
        _transfer = transfer;
        _runtime = runtime;
        _store = store;
        _content = content;
        _pieces = pieces;
        _fetcher = fetcher;
        _scheduler = scheduler;
        _origins = origins;
        _loggers = loggers;
        _logger = loggers.CreateLogger<TaskManager>();
        _time = time;
        pieces.GuardTripped += OnGuardTripped;
        scheduler.Membership = Membership;
        scheduler.Unrouted += OnUnrouted;
        scheduler.SessionStarted += OnSchedulerConnected;
    }

    /// <summary>Raised (outside any lock) whenever a task's reported state or progress changes.</summary>
    public event Action<TaskInfo>? TaskChanged;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var record in _store.All())
        {
            if (!ContentDigest.TryParse(record.Id, out var parsed))
            {
                continue;
            }
            var digest = parsed.Value;
            var entry = new TaskEntry(digest, record);
            if (record.ManifestBytes is { Length: > 0 } bytes)
            {
                entry.Manifest = Manifest.Parser.ParseFrom(bytes);
                entry.Content = ContentDigest.TryParse(entry.Manifest.ContentDigest, out var content) ? content : null;
            }
            if (record.OutputPath is { Length: > 0 } output && !record.Publisher && IsLastAnnouncedAt(record))
            {
                entry.SubscriptionOutputs.Add(output);
            }
            entry.CacheOnly = IsCacheOnly(record, entry.Manifest);
            switch (record.State)
            {
                case TaskState.Succeeded when _content.HasContent(digest):
                    entry.State = TaskStates.Succeeded;
                    _pieces.AddComplete(digest, new PieceLayout(record.Size, record.PieceSize), _content.ContentPath(digest), record.Guard());
                    // Killed between "succeeded" and placing the copy: place it now.
                    foreach (var missing in entry.SubscriptionOutputs.Where(o => !File.Exists(o)).ToList())
                    {
                        entry.Placements++;
                        Track(Task.Run(() => PlacedAsync(entry, () => PlaceAsync(entry, missing, _stopping.Token))));
                    }
                    break;
                case TaskState.Succeeded:
                    // The content was removed by hand: forget the task rather than advertise it.
                    _store.Delete(digest);
                    continue;
                case TaskState.Failed:
                    entry.State = TaskStates.Failed;
                    break;
                default:
                    AgentLog.TaskResumed(_logger, digest.ToString(), record.Name, PieceBitmap.FromBytes(record.Bitmap ?? [], record.PieceCount).CountSet, record.PieceCount);
                    break;
            }
            lock (_gate)
            {
                Register(entry);
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Whether the task is still the version last announced for its output path: a task an announcement with a
    /// higher sequence replaced there (in an earlier run) must not place itself there when it finishes now.
    /// </summary>
    private bool IsLastAnnouncedAt(TaskRecord record) =>
        _sequences?.Last(record.Topic, record.Name) is not { } last || last.Digest == record.Id;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] running;
        lock (_gate)
        {
            running = [.. _running];
        }
        await Task.WhenAll(running).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public IReadOnlyList<TaskInfo> GetTasks()
    {
        lock (_gate)
        {
            return _tasks.Values.OrderBy(e => e.Record.CreatedAt).Select(ToInfo).ToList();
        }
    }

    public TaskInfo? GetTask(ContentDigest digest)
    {
        lock (_gate)
        {
            return _tasks.TryGetValue(digest, out var entry) ? ToInfo(entry) : null;
        }
    }

    /// <summary>
    /// A valid announcement arrived on a subscribed topic. The task is recorded before this returns
    /// (so the MQTT acknowledgement follows a durable record); the download runs in the background.
    /// </summary>
    public void OnAnnouncement(Announcement announcement)
    {
        if (ImageBlobLabels.IsImage(announcement.Labels))
        {
            OnImageAnnouncement(announcement);
            return;
        }
        var digest = ContentDigest.Parse(announcement.Digest);
        if (ImageBlobs.IsImageBlob(announcement.Labels))
        {
            OnImageBlobAnnouncement(digest, announcement);
            return;
        }
        var output = SubscriptionOutput(announcement.Topic, announcement.Name);
        TaskEntry entry;
        bool placeNow;
        lock (_gate)
        {
            // One output path shows the newest version announced for it (by the broker's sequence number,
            // never a clock): an older task still downloading must not overwrite it when it finishes later.
            foreach (var other in _tasks.Values)
            {
                if (other.Digest != digest && other.AnnouncedSequence > announcement.Sequence && other.SubscriptionOutputs.Contains(output))
                {
                    AgentLog.AnnouncementIgnored(_logger, announcement.Topic, $"{digest} is older than {other.Digest}, already announced for {output}");
                    return;
                }
            }
            foreach (var other in _tasks.Values)
            {
                if (other.Digest != digest)
                {
                    other.SubscriptionOutputs.Remove(output);
                }
            }
            if (_tasks.TryGetValue(digest, out var known))
            {
                // Already known: the same content announced again (a retained copy after a reconnect)
                // or on another topic, which only adds a place to put it.
                known.AnnouncedAt = announcement.CreatedAt > known.AnnouncedAt ? announcement.CreatedAt : known.AnnouncedAt;
                known.AnnouncedSequence = Math.Max(known.AnnouncedSequence, announcement.Sequence);
                if (!known.SubscriptionOutputs.Add(output))
                {
                    return;
                }
                entry = known;
                placeNow = known.State == TaskStates.Succeeded;
                if (placeNow)
                {
                    entry.Placements++;
                }
            }
            else
            {
                // Read and checked only for a task new here: a retained copy delivered again costs no signature check.
                var inline = InlineManifestOf(announcement, digest);
                var record = NewPendingRecord(digest, announcement.Name, announcement.Topic, new PieceLayout(announcement.Size, announcement.PieceSize), inline);
                record.OutputPath = output;
                _store.Save(record);
                entry = new TaskEntry(digest, record)
                {
                    // With the manifest at hand the run joins at once, without a GetManifest round trip.
                    Manifest = inline,
                    AnnouncedAt = announcement.CreatedAt,
                    AnnouncedSequence = announcement.Sequence,
                    UrlTaskAnnounced = announcement.UrlTask,
                    Content = ContentDigest.TryParse(announcement.ContentDigest, out var content) ? content : null,
                };
                entry.SubscriptionOutputs.Add(output);
                placeNow = false;
                AgentLog.Announced(_logger, digest.ToString(), announcement.Name, announcement.Topic, ByteSize.Format(announcement.Size));
                Register(entry);
            }
        }
        if (placeNow)
        {
            Track(Task.Run(() => PlacedAsync(entry, () => PlaceAsync(entry, output, _stopping.Token))));
        }
    }

    /// <summary>
    /// Downloads <paramref name="digest"/> into <paramref name="output"/>; the returned waiter streams
    /// snapshots, the last of which is final (succeeded with <c>Path</c> = output, or failed).
    /// </summary>
    /// <exception cref="UnknownTaskException">The broker does not know the digest.</exception>
    /// <exception cref="UserFacingException">The broker cannot be reached.</exception>
    internal async Task<DownloadWaiter> DownloadAsync(ContentDigest digest, string output, long limit, CancellationToken cancellationToken)
    {
        if (!Path.IsPathFullyQualified(output))
        {
            throw UserFacingException.Usage($"{output} is not an absolute path");
        }
        TaskEntry? entry;
        lock (_gate)
        {
            _tasks.TryGetValue(digest, out entry);
        }
        var waiter = new DownloadWaiter(output);
        if (entry is null)
        {
            var manifest = await _scheduler.GetManifestAsync(digest, cancellationToken).ConfigureAwait(false)
                ?? throw new UnknownTaskException($"no task {digest} is known to broker {_scheduler.BrokerAddress}; publish it first or check the digest");
            CheckManifest(digest, manifest);
            lock (_gate)
            {
                if (!_tasks.TryGetValue(digest, out entry))
                {
                    var record = NewPendingRecord(digest, manifest.Name, manifest.Topic, manifest.Layout(), manifest);
                    _store.Save(record);
                    entry = new TaskEntry(digest, record) { Manifest = manifest, DownloadLimit = limit };
                    // In place before the task's loop can start: a run with waiters hashes the whole file.
                    entry.Waiters.Add(waiter);
                    Register(entry);
                    waiter.Progress(ToInfo(entry) with { Path = output });
                    return waiter;
                }
            }
        }
        return AddWaiter(entry, waiter, fresh: null, limit);
    }

    /// <summary>Adds a download request to a task: answered at once when it is done, restarts it when it failed.</summary>
    private DownloadWaiter AddWaiter(TaskEntry entry, DownloadWaiter waiter, Manifest? fresh, long limit)
    {
        TaskInfo? first = null;
        lock (_gate)
        {
            if (entry.State == TaskStates.Succeeded)
            {
                TouchLocked(entry);
                entry.Placements++;
            }
            else
            {
                entry.Waiters.Add(waiter);
                if (entry.State == TaskStates.Failed)
                {
                    // A new request retries a failed task.
                    ResetForRetry(entry, fresh);
                    entry.DownloadLimit = limit;
                    entry.Inbox.RequestRun();
                }
                // Taken with the waiter added: a snapshot taken after the lock could already say "succeeded" (the
                // task completed in between) and reach dfget as its last word before the file was placed.
                first = ToInfo(entry);
            }
        }
        if (first is null)
        {
            Track(Task.Run(() => PlacedAsync(entry, () => FinishWaiterAsync(entry, waiter, null, _stopping.Token))));
        }
        else
        {
            waiter.Progress(first with { Path = waiter.Output ?? StorePath(entry) });
        }
        return waiter;
    }

    /// <summary>
    /// Readies a failed task for another run (under the lock). A URL task starts afresh: the broker
    /// forgot it when it failed, so the pieces held were verified against digests nobody vouches for now.
    /// </summary>
    private void ResetForRetry(TaskEntry entry, Manifest? fresh)
    {
        entry.State = TaskStates.Pending;
        entry.Downloader = null;
        entry.WaitingForSpace = false;
        var record = entry.Record;
        record.Error = null;
        record.ErrorKind = TaskErrorKind.Other;
        record.State = TaskState.Pending;
        // A new request starts a new run: its timeline starts now.
        record.ReceivedAt = _time.GetUtcNow().UtcDateTime;
        record.FirstPieceRequestedAt = null;
        if (entry.IsUrlTask || fresh is { UrlTask: true })
        {
            // Without a fresh registration the run first asks the broker whether it still knows the task.
            entry.Registered = fresh is not null;
            entry.Manifest = fresh ?? entry.Manifest;
            entry.Content = entry.Manifest is { } m && ContentDigest.TryParse(m.ContentDigest, out var content) ? content : null;
            record.Bitmap = new PieceBitmap(record.PieceCount).ToBytes();
            record.BytesFromPeers = 0;
            record.BytesFromSource = 0;
            record.ManifestBytes = entry.Manifest?.ToByteArray() ?? [];
            _pieces.Remove(entry.Digest);
            _content.DeletePartial(entry.Digest);
        }
        record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
        _store.Save(record);
    }

    private TaskRecord NewPendingRecord(ContentDigest digest, string name, string topic, PieceLayout layout, Manifest? manifest)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        return new TaskRecord
        {
            Id = digest.ToString(),
            Name = name,
            Topic = topic,
            Size = layout.Size,
            PieceSize = layout.PieceSize,
            PieceCount = layout.PieceCount,
            State = TaskState.Pending,
            Bitmap = new PieceBitmap(layout.PieceCount).ToBytes(),
            ManifestBytes = manifest?.ToByteArray() ?? [],
            CreatedAt = now,
            UpdatedAt = now,
            ReceivedAt = now,
        };
    }

    /// <summary>
    /// Adds a task to the table (under the lock): from now on the scheduler's events about it go
    /// into its inbox, and its own loop (TaskManager.Runs.cs) runs it whenever it is pending.
    /// </summary>
    private void Register(TaskEntry entry)
    {
        _tasks[entry.Digest] = entry;
        _scheduler.Route(entry.Digest, entry.Inbox);
        Track(Task.Run(() => TaskLoopAsync(entry, _stopping.Token)));
    }

    private void Track(Task task)
    {
        lock (_gate)
        {
            _running.RemoveAll(t => t.IsCompleted);
            _running.Add(task);
        }
    }

    public void Dispose() => _stopping.Dispose();
}
