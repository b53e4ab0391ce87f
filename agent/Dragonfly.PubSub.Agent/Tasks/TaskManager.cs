using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Transfer.Swarm;
using Google.Protobuf;
using PublishRequest = Dragonfly.PubSub.Client.PublishRequest;

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
    private readonly Lock _gate = new();
    private readonly Dictionary<ContentDigest, TaskEntry> _tasks = [];
    private readonly List<Task> _running = [];
    private readonly CancellationTokenSource _stopping = new();

    public TaskManager(AgentOptions options, TransferOptions transfer, AgentRuntime runtime, AgentStore store, ContentStore content,
        LocalPieces pieces, PieceFetcher fetcher, SchedulerSession scheduler, OriginClient origins, ILoggerFactory loggers, TimeProvider time)
    {
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
        scheduler.ParentsReceived += OnParents;
        scheduler.PiecesAvailableReceived += OnPiecesAvailable;
        scheduler.PieceDigestsReceived += OnPieceDigests;
        scheduler.FetchSourceReceived += OnFetchSource;
        scheduler.TaskSourcedReceived += OnTaskSourced;
        scheduler.TaskFailedReceived += OnTaskFailed;
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
            if (record.OutputPath is { Length: > 0 } output && !record.Publisher)
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
                        Track(Task.Run(() => PlaceAsync(entry, missing, _stopping.Token)));
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
                _tasks[digest] = entry;
            }
            if (entry.State == TaskStates.Pending)
            {
                StartRun(entry);
            }
        }
        return Task.CompletedTask;
    }

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
            // One output path shows the newest version announced for it: an older task still
            // downloading must not overwrite it when it finishes later.
            foreach (var other in _tasks.Values)
            {
                if (other.Digest != digest && other.AnnouncedAt > announcement.CreatedAt && other.SubscriptionOutputs.Contains(output))
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
                if (!known.SubscriptionOutputs.Add(output))
                {
                    return;
                }
                entry = known;
                placeNow = known.State == TaskStates.Succeeded;
            }
            else
            {
                var record = NewPendingRecord(digest, announcement.Name, announcement.Topic, new PieceLayout(announcement.Size, announcement.PieceSize), manifest: null);
                record.OutputPath = output;
                _store.Save(record);
                entry = new TaskEntry(digest, record)
                {
                    AnnouncedAt = announcement.CreatedAt,
                    UrlTaskAnnounced = announcement.UrlTask,
                    Content = ContentDigest.TryParse(announcement.ContentDigest, out var content) ? content : null,
                };
                entry.SubscriptionOutputs.Add(output);
                _tasks[digest] = entry;
                placeNow = false;
                AgentLog.Announced(_logger, digest.ToString(), announcement.Name, announcement.Topic, ByteSize.Format(announcement.Size));
                StartRun(entry);
            }
        }
        if (placeNow)
        {
            Track(Task.Run(() => PlaceAsync(entry, output, _stopping.Token)));
        }
    }

    /// <summary>Imports a local file, makes this agent its first seed, and has the broker announce it.</summary>
    /// <exception cref="UserFacingException">Bad input (exit 2) or an unreachable broker (exit 1).</exception>
    public async Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        if (TopicName.ValidateTopic(request.Topic) is { } topicError)
        {
            throw UserFacingException.Usage(topicError);
        }
        if (request.Url is not null)
        {
            return request.Path is null
                ? await PublishUrlAsync(request, cancellationToken).ConfigureAwait(false)
                : throw UserFacingException.Usage("give either a file path or a URL to publish, not both");
        }
        if (request.Path is null)
        {
            throw UserFacingException.Usage("give the absolute path of a file (path) or a URL (url) to publish");
        }
        var name = request.Name ?? Path.GetFileName(request.Path);
        if (ArtifactName.Validate(name) is { } nameError)
        {
            throw UserFacingException.Usage(nameError);
        }
        if (!Path.IsPathFullyQualified(request.Path) || !File.Exists(request.Path))
        {
            throw UserFacingException.Usage($"{request.Path} does not exist or is not a file the agent can see; give an absolute path to a file");
        }

        Manifest manifest;
        ImportResult imported;
        try
        {
            imported = await _content.ImportInPlaceAsync(request.Path, name, request.PieceSize, progress: null, cancellationToken).ConfigureAwait(false);
            manifest = imported.Manifest;
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw UserFacingException.Usage(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"cannot read {request.Path}: {e.Message}");
        }
        manifest.Topic = request.Topic;
        manifest.Publisher = _runtime.PeerId;
        manifest.CreatedAtUnixMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        manifest.Labels.Add(request.Labels ?? []);

        var digest = ContentDigest.Parse(manifest.Digest);
        var layout = manifest.Layout();
        TaskEntry entry;
        FileStamp? guard;
        lock (_gate)
        {
            var now = _time.GetUtcNow().UtcDateTime;
            if (!_tasks.TryGetValue(digest, out entry!) || entry.State != TaskStates.Succeeded)
            {
                var record = entry?.Record ?? new TaskRecord { Id = digest.ToString(), CreatedAt = now, ReceivedAt = now };
                record.Name = name;
                record.Topic = request.Topic;
                record.Size = manifest.Size;
                record.PieceSize = manifest.PieceSize;
                record.PieceCount = layout.PieceCount;
                record.Bitmap = PieceBitmap.Full(layout.PieceCount).ToBytes();
                entry ??= new TaskEntry(digest, record);
                entry.State = TaskStates.Succeeded;
                _tasks[digest] = entry;
            }
            entry.Manifest = manifest;
            entry.Record.ManifestBytes = manifest.ToByteArray();
            entry.Record.State = TaskState.Succeeded;
            entry.Record.Publisher = true;
            entry.Record.UpdatedAt = now;
            if (imported.Method != ImportMethod.AlreadyStored)
            {
                entry.Record.SetGuard(imported.Guard);
            }
            guard = entry.Record.Guard();
            _store.Save(entry.Record);
        }
        TaskLog.PublishedInPlace(_logger, digest.ToString(), request.Path, imported.Method.ToString().ToLowerInvariant());
        _pieces.AddComplete(digest, layout, _content.ContentPath(digest), guard);
        Notify(entry);

        await _scheduler.PublishAsync(manifest, cancellationToken).ConfigureAwait(false);
        // Joined after Publish: the broker ignores joins of tasks it does not know yet, and when the
        // publisher joins, the subscribers already waiting get it as their parent of last resort.
        _scheduler.Join(digest, PieceBitmap.Full(layout.PieceCount), publisher: true);
        AgentLog.Published(_logger, digest.ToString(), name, request.Topic, ByteSize.Format(manifest.Size));
        return new PublishResult(digest.ToString(), name, manifest.Size, request.Topic, manifest.PieceSize, layout.PieceCount);
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
                    _tasks[digest] = entry;
                    StartRun(entry);
                }
            }
        }
        return AddWaiter(entry, new DownloadWaiter(output), fresh: null, limit);
    }

    /// <summary>Adds a download request to a task: answered at once when it is done, restarts it when it failed.</summary>
    private DownloadWaiter AddWaiter(TaskEntry entry, DownloadWaiter waiter, Manifest? fresh, long limit)
    {
        bool placeNow;
        lock (_gate)
        {
            placeNow = entry.State == TaskStates.Succeeded;
            if (!placeNow)
            {
                entry.Waiters.Add(waiter);
                if (entry.State == TaskStates.Failed)
                {
                    // A new request retries a failed task.
                    ResetForRetry(entry, fresh);
                    entry.DownloadLimit = limit;
                    StartRun(entry);
                }
            }
        }
        if (placeNow)
        {
            Track(Task.Run(async () => await FinishWaiterAsync(entry, waiter, null, _stopping.Token).ConfigureAwait(false)));
        }
        else
        {
            var info = ToInfoLocked(entry);
            waiter.Updates.Writer.TryWrite(info with { Path = waiter.Output ?? StorePath(entry) });
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
        entry.ClearEarly();
        var record = entry.Record;
        record.Error = null;
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

    private void StartRun(TaskEntry entry)
    {
        Track(Task.Run(() => RunAsync(entry, _stopping.Token)));
    }

    private void Track(Task task)
    {
        lock (_gate)
        {
            _running.RemoveAll(t => t.IsCompleted);
            _running.Add(task);
        }
    }

    private async Task RunAsync(TaskEntry entry, CancellationToken stopping)
    {
        string? error;
        try
        {
            var manifest = await ManifestForRunAsync(entry, stopping).ConfigureAwait(false);
            if (manifest is null)
            {
                error = entry.IsUrlTask
                    ? $"broker {_scheduler.BrokerAddress} no longer knows URL task {entry.Digest} (restarted or failed); download the URL again"
                    : $"broker {_scheduler.BrokerAddress} does not know {entry.Digest}";
            }
            else
            {
                error = await DownloadCoreAsync(entry, manifest, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return; // shutting down: the persisted state resumes next time
        }
        catch (Exception e)
        {
            // Whatever went wrong, the task ends visibly (failed, logged, waiters answered)
            // instead of hanging in "running".
            error = e.Message;
        }
        await CompleteAsync(entry, error, stopping).ConfigureAwait(false);
    }

    /// <summary>
    /// The manifest to run with: the one at hand, or the broker's. A URL task resumed from the store
    /// is checked with the broker first (it keeps URL tasks in memory only until they are sourced),
    /// keeping the piece digests this agent already learned.
    /// </summary>
    private async Task<Manifest?> ManifestForRunAsync(TaskEntry entry, CancellationToken stopping)
    {
        Manifest? held;
        bool registered;
        lock (_gate)
        {
            held = entry.Manifest;
            registered = entry.Registered;
        }
        if (held is not null && (registered || !held.UrlTask || _content.HasContent(entry.Digest)))
        {
            return held;
        }
        var fetched = await FetchManifestAsync(entry, stopping).ConfigureAwait(false);
        if (fetched is null || held is null)
        {
            return fetched;
        }
        // Digests learned before the restart still hold: the task id pins URL, piece size and tag.
        var merged = fetched.Clone();
        for (var i = 0; i < merged.PieceDigests.Count && i < held.PieceDigests.Count; i++)
        {
            if (merged.PieceDigests[i].IsEmpty)
            {
                merged.PieceDigests[i] = held.PieceDigests[i];
            }
        }
        if (merged.ContentDigest.Length == 0)
        {
            merged.ContentDigest = held.ContentDigest;
        }
        return merged;
    }

    private async Task<string?> DownloadCoreAsync(TaskEntry entry, Manifest manifest, CancellationToken stopping)
    {
        var digest = entry.Digest;
        if (_content.HasContent(digest) && entry.Record.State == TaskState.Succeeded)
        {
            return null;
        }
        TaskDownloader downloader;
        ParentSet? early;
        PieceDigests[] digests;
        FetchSource? source;
        string? failure;
        ContentDigest? content;
        lock (_gate)
        {
            if (entry.CacheOnly)
            {
                // Marked in the stored manifest, so that a restart still keeps it out of output-dir.
                manifest = ImageBlobs.Mark(manifest);
            }
            entry.Manifest = manifest;
            if (!manifest.UrlTask || entry.Record.ManifestBytes is not { Length: > 0 })
            {
                // A URL task's record holds the digests an earlier run learned; the downloader merges
                // them with this manifest, so overwriting them would re-fetch every kept piece.
                entry.Record.ManifestBytes = manifest.ToByteArray();
            }
            entry.Record.State = TaskState.Running;
            entry.Record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
            _store.Save(entry.Record);
            downloader = new TaskDownloader(manifest, entry.Record, _store, _content, _pieces, _fetcher, _scheduler,
                _transfer, _loggers.CreateLogger<TaskDownloader>(), _time, downloadLimit: entry.DownloadLimit,
                proof: entry.CacheOnly ? WholeFileProof.Sha256 : WholeFileProof.ManifestBinding);
            entry.Downloader = downloader;
            entry.State = TaskStates.Running;
            early = entry.EarlyParents;
            digests = [.. entry.EarlyDigests];
            source = entry.PendingSource;
            failure = entry.PendingFailure;
            content = entry.IsUrlTask ? entry.Content : null;
            entry.ClearEarly();
        }
        downloader.ProgressChanged += _ => Notify(entry);
        foreach (var known in digests)
        {
            LearnDigests(downloader, known);
        }
        if (content is { } learned)
        {
            downloader.ContentDigestLearned(learned);
        }
        if (early is not null)
        {
            downloader.UpdateParents(ToParents(early, manifest.Layout().PieceCount));
        }
        if (failure is not null)
        {
            downloader.FailFromSwarm(failure);
        }
        Notify(entry);
        // Joined before the source starts: the scheduler takes piece digests only from members.
        _scheduler.Join(digest, PieceBitmap.FromBytes(entry.Record.Bitmap ?? [], manifest.Layout().PieceCount), publisher: entry.Record.Publisher);
        if (source is not null)
        {
            BecomeSource(entry, downloader, source);
        }
        var outcome = await downloader.RunAsync(stopping).ConfigureAwait(false);
        stopping.ThrowIfCancellationRequested();
        if (outcome.Succeeded && entry.IsUrlTask && outcome.Content is { } hashed)
        {
            lock (_gate)
            {
                entry.Content = hashed;
                // The downloader kept the learned digests in the record; add the content digest.
                var stored = entry.Record.ManifestBytes is { Length: > 0 } bytes ? Manifest.Parser.ParseFrom(bytes) : manifest.Clone();
                stored.ContentDigest = hashed.ToString();
                entry.Manifest = stored;
                entry.Record.ManifestBytes = stored.ToByteArray();
            }
        }
        return outcome.Succeeded ? null : outcome.Error ?? "the download failed";
    }

    private async Task<Manifest?> FetchManifestAsync(TaskEntry entry, CancellationToken stopping)
    {
        var manifest = await GetManifestPatientlyAsync(entry.Digest, stopping).ConfigureAwait(false);
        if (manifest is not null)
        {
            CheckManifest(entry.Digest, manifest);
            // The name may differ (same bytes published under another name); it only decides
            // the output path, which comes from the announcement. The layout must match.
            if (manifest.Size != entry.Record.Size || manifest.PieceSize != entry.Record.PieceSize)
            {
                throw new InvalidDataException($"the broker's manifest of {entry.Digest} has another size or piece size than its announcement");
            }
        }
        return manifest;
    }

    /// <summary>The broker's manifest of <paramref name="digest"/>, or null when it does not know it.</summary>
    private async Task<Manifest?> GetManifestPatientlyAsync(ContentDigest digest, CancellationToken stopping)
    {
        // The broker may be down for a while (restart, failover): keep asking, the announcement stands.
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                return await _scheduler.GetManifestAsync(digest, stopping).ConfigureAwait(false);
            }
            catch (UserFacingException e) when (e.ExitCode == ExitCodes.Failed && e.InnerException is Grpc.Core.RpcException)
            {
                await Task.Delay(delay, stopping).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(2).Ticks, delay.Ticks * 2));
            }
        }
    }

    /// <summary>
    /// Checks a manifest from the broker. A URL task's may list piece digests partially (empty =
    /// not fetched yet) or not at all; it is padded to one entry per piece.
    /// </summary>
    private static void CheckManifest(ContentDigest digest, Manifest manifest)
    {
        if ((manifest.UrlTask ? ValidateUrlManifest(manifest) : manifest.Validate()) is { } problem)
        {
            throw new InvalidDataException($"the broker's manifest of {digest} is invalid: {problem}");
        }
        if (manifest.Digest != digest.ToString())
        {
            throw new InvalidDataException($"the broker answered with the manifest of {manifest.Digest} when asked for {digest}");
        }
    }

    /// <summary>Places the content everywhere it was asked for, then reports the final state.</summary>
    private async Task CompleteAsync(TaskEntry entry, string? error, CancellationToken stopping)
    {
        var placed = new HashSet<string>(StringComparer.Ordinal);
        if (error is null)
        {
            // Outputs announced while copying are picked up by the next round, until none is new.
            while (error is null && NextUnplaced(entry, placed) is { } output)
            {
                error = await TryPlaceAsync(entry, output, stopping).ConfigureAwait(false);
                placed.Add(output);
            }
        }
        DownloadWaiter[] waiters;
        lock (_gate)
        {
            // From here on new requests see the final state and are answered directly.
            entry.State = error is null ? TaskStates.Succeeded : TaskStates.Failed;
            entry.Record.Error = error;
            if (error is not null)
            {
                entry.Record.State = TaskState.Failed;
            }
            entry.Record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
            _store.Save(entry.Record);
            waiters = [.. entry.Waiters];
            entry.Waiters.Clear();
        }
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
            AgentLog.TaskFailed(_logger, entry.Digest.ToString(), entry.Record.Name, error);
            _scheduler.Leave(entry.Digest);
        }
        Notify(entry);
        foreach (var waiter in waiters)
        {
            await FinishWaiterAsync(entry, waiter, error, stopping).ConfigureAwait(false);
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
        waiter.Updates.Writer.TryComplete();
    }

    private async Task FinishWaiterAsync(TaskEntry entry, DownloadWaiter waiter, string? error, CancellationToken stopping)
    {
        error ??= CheckExpected(entry, waiter);
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
            };
        }
        waiter.Updates.Writer.TryWrite(info);
        waiter.Updates.Writer.TryComplete();
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
            await _content.PlaceAsync(entry.Digest, output, link: true, stopping).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"could not write {output}: {e.Message}";
        }
    }

    /// <summary>A file published in place changed under the swarm: check it again, serve it or drop it.</summary>
    private void OnGuardTripped(ContentDigest digest)
    {
        TaskLog.GuardTripped(_logger, digest.ToString());
        Track(Task.Run(() => ReverifyAsync(digest, _stopping.Token)));
    }

    private async Task ReverifyAsync(ContentDigest digest, CancellationToken stopping)
    {
        TaskEntry? entry;
        lock (_gate)
        {
            _tasks.TryGetValue(digest, out entry);
        }
        if (entry is null)
        {
            return;
        }
        var stamp = await _content.ReverifyAsync(digest, entry.Record.PieceSize, stopping).ConfigureAwait(false);
        lock (_gate)
        {
            if (stamp is not null)
            {
                entry.Record.SetGuard(stamp);
            }
            else
            {
                entry.State = TaskStates.Failed;
                entry.Record.State = TaskState.Failed;
                entry.Record.Error = "the published file changed after it was published; publish it again";
                entry.Record.SetGuard(null);
            }
            entry.Record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
            _store.Save(entry.Record);
        }
        if (stamp is not null)
        {
            TaskLog.GuardReverified(_logger, digest.ToString());
            _pieces.AddComplete(digest, new PieceLayout(entry.Record.Size, entry.Record.PieceSize), _content.ContentPath(digest), stamp);
            return;
        }
        AgentLog.TaskFailed(_logger, digest.ToString(), entry.Record.Name, entry.Record.Error!);
        // The store's name is the publisher's file: unlink it, the publisher's own name stays.
        _content.DeleteContent(digest);
        _scheduler.Leave(digest);
        Notify(entry);
    }

    private void OnParents(ParentSet set)
    {
        if (!ContentDigest.TryParse(set.Digest, out var digest))
        {
            return;
        }
        TaskDownloader? downloader;
        int pieceCount;
        lock (_gate)
        {
            if (!_tasks.TryGetValue(digest.Value, out var entry))
            {
                return;
            }
            downloader = entry.Downloader;
            pieceCount = entry.Record.PieceCount;
            if (downloader is null)
            {
                // The manifest is still being fetched: keep the newest set for when it starts.
                entry.EarlyParents = set;
                return;
            }
        }
        downloader.UpdateParents(ToParents(set, pieceCount));
    }

    private void OnPiecesAvailable(PieceAvailable available)
    {
        if (!ContentDigest.TryParse(available.Digest, out var digest))
        {
            return;
        }
        TaskDownloader? downloader;
        lock (_gate)
        {
            downloader = _tasks.TryGetValue(digest.Value, out var entry) ? entry.Downloader : null;
        }
        downloader?.PiecesAvailable(available.PeerId, available.Indexes);
    }

    private static List<ParentPeer> ToParents(ParentSet set, int pieceCount) =>
        set.Parents.Select(p => new ParentPeer(p.PeerId, p.Host, p.Port, PieceBitmap.FromBytes(p.Bitmap.Span, pieceCount), p.LastResort)).ToList();

    /// <summary>What to tell a (re)connected scheduler: every task held or being fetched.</summary>
    private IEnumerable<JoinTask> Membership()
    {
        lock (_gate)
        {
            var joins = new List<JoinTask>();
            foreach (var entry in _tasks.Values)
            {
                if (entry.State == TaskStates.Succeeded)
                {
                    joins.Add(SchedulerSession.NewJoin(entry.Digest, PieceBitmap.Full(entry.Record.PieceCount), entry.Record.Publisher));
                }
                else if (entry.Downloader is not null && entry.State == TaskStates.Running)
                {
                    joins.Add(SchedulerSession.NewJoin(entry.Digest, PieceBitmap.FromBytes(entry.Record.Bitmap ?? [], entry.Record.PieceCount), entry.Record.Publisher));
                }
            }
            return joins;
        }
    }

    private void Notify(TaskEntry entry)
    {
        TaskInfo info;
        DownloadWaiter[] waiters;
        lock (_gate)
        {
            info = ToInfo(entry);
            waiters = [.. entry.Waiters];
        }
        foreach (var waiter in waiters)
        {
            waiter.Updates.Writer.TryWrite(info with { Path = waiter.Output ?? StorePath(entry) });
        }
        TaskChanged?.Invoke(info);
    }

    private TaskInfo ToInfoLocked(TaskEntry entry)
    {
        lock (_gate)
        {
            return ToInfo(entry);
        }
    }

    private TaskInfo ToInfo(TaskEntry entry)
    {
        var record = entry.Record;
        var progress = entry.Downloader?.Progress;
        var completed = entry.State == TaskStates.Succeeded
            ? record.PieceCount
            : progress?.CompletedPieces ?? PieceBitmap.FromBytes(record.Bitmap ?? [], record.PieceCount).CountSet;
        return new TaskInfo
        {
            Digest = record.Id,
            Name = record.Name,
            Topic = record.Topic,
            State = entry.State,
            Size = record.Size,
            CompletedPieces = completed,
            TotalPieces = record.PieceCount,
            BytesFromPeers = progress?.BytesFromPeers ?? record.BytesFromPeers,
            BytesFromSource = progress?.BytesFromSource ?? record.BytesFromSource,
            Path = entry.SubscriptionOutputs.FirstOrDefault() ?? record.OutputPath ?? (entry.CacheOnly ? StorePath(entry) : null),
            Error = record.Error,
            // A failed task's expected digest may be exactly what the content did not hash to.
            ContentDigest = entry.IsUrlTask && entry.State != TaskStates.Failed ? entry.Content?.ToString() : null,
            AnnouncedAt = Rfc3339(record.ReceivedAt ?? record.CreatedAt),
            FirstPieceRequestedAt = Rfc3339(entry.Downloader?.FirstPieceRequestedAt ?? record.FirstPieceRequestedAt),
        };
    }

    /// <summary>RFC 3339 in UTC with milliseconds, as the task JSON carries times.</summary>
    private static string? Rfc3339(DateTime? time) =>
        time is { } t ? DateTime.SpecifyKind(t, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>&lt;output-dir&gt;/&lt;topic&gt;/&lt;name&gt;, refusing anything that would land outside output-dir.</summary>
    private string SubscriptionOutput(string topic, string name)
    {
        var root = Path.GetFullPath(_options.OutputDir);
        var path = Path.GetFullPath(Path.Combine(root, Path.Combine(topic.Split('/')), name));
        if (!path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new IOException($"topic '{topic}' and name '{name}' would land outside the output directory");
        }
        return path;
    }

    public void Dispose() => _stopping.Dispose();
}
