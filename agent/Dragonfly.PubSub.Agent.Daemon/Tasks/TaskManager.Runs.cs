using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Transfer.Swarm;
using Google.Protobuf;

namespace Dragonfly.PubSub.Agent.Tasks;

// Running a task: its loop (the only reader of its inbox), the manifest a run starts from, the
// download itself, and the scheduler's events handed to the downloader while it runs.
public sealed partial class TaskManager
{
    /// <summary>
    /// The task's own loop and the only reader of its inbox, from registration until the agent
    /// stops: it runs the task whenever it is pending (during a run, <see cref="PumpAsync"/> reads
    /// the inbox for it), and between runs answers what the scheduler asks of a finished task.
    /// </summary>
    private async Task TaskLoopAsync(TaskEntry entry, CancellationToken stopping)
    {
        try
        {
            if (IsPending(entry))
            {
                await RunAsync(entry, stopping).ConfigureAwait(false);
            }
            var inbox = entry.Inbox.Reader;
            while (await inbox.WaitToReadAsync(stopping).ConfigureAwait(false))
            {
                while (!stopping.IsCancellationRequested && inbox.TryRead(out var message))
                {
                    if (message is TaskMessage.FromScheduler { Event: var e })
                    {
                        OnEventBetweenRuns(entry, e);
                    }
                    if (IsPending(entry))
                    {
                        await RunAsync(entry, stopping).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutting down: the persisted state resumes next time.
        }
    }

    private bool IsPending(TaskEntry entry)
    {
        lock (_gate)
        {
            return entry.State == TaskStates.Pending;
        }
    }

    /// <summary>
    /// What the scheduler says to a task that does not run: a finished task answers a FetchSource
    /// from the store, a failed one runs again as the source; a content digest is kept.
    /// </summary>
    private void OnEventBetweenRuns(TaskEntry entry, SchedulerEvent message)
    {
        switch (message.EventCase)
        {
            case SchedulerEvent.EventOneofCase.FetchSource:
                var fetch = message.FetchSource;
                string? state;
                string? refusal = null;
                lock (_gate)
                {
                    state = entry.State;
                    if (state != TaskStates.Succeeded)
                    {
                        refusal = InvalidManifest(entry.Digest, fetch.Manifest)
                            ?? (state is TaskStates.Failed or TaskStates.Pending ? null : $"task {entry.Digest} is {state} here");
                        if (refusal is null && state == TaskStates.Failed)
                        {
                            ResetForRetry(entry, fetch.Manifest);
                        }
                    }
                }
                if (state == TaskStates.Succeeded)
                {
                    AnswerSourceFromStore(entry);
                }
                else if (refusal is not null)
                {
                    ((ISwarmReporter)_scheduler).SourceFailed(entry.Digest, refusal, permanent: false, TaskErrorKind.Other);
                }
                else
                {
                    // Queued again behind the run request: the new run takes it once it has joined.
                    entry.Inbox.Deliver(message);
                }
                break;
            case SchedulerEvent.EventOneofCase.TaskSourced when ContentDigest.TryParse(message.TaskSourced.ContentDigest, out var content):
                lock (_gate)
                {
                    if (entry.State is TaskStates.Succeeded or TaskStates.Failed)
                    {
                        return;
                    }
                    entry.Content = content;
                }
                Notify(entry);
                break;
        }
    }

    private async Task RunAsync(TaskEntry entry, CancellationToken stopping)
    {
        string? error;
        TaskErrorKind? kind = null; // null: as the downloader recorded it
        try
        {
            var (manifest, lost, lostKind) = await ManifestForRunAsync(entry, stopping).ConfigureAwait(false);
            if (manifest is null)
            {
                error = lost ?? (entry.IsUrlTask ? LostUrlTaskMessage(entry) : $"broker {_scheduler.BrokerAddress} does not know {entry.Digest}");
                kind = lostKind;
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
            kind = TaskErrorKind.Other;
        }
        lock (_gate)
        {
            entry.Registration = null; // its headers may be credentials: kept no longer than the run
        }
        await CompleteAsync(entry, error, kind, stopping).ConfigureAwait(false);
    }

    /// <summary>
    /// The manifest to run with: the one at hand, or the broker's. A URL task resumed from the store
    /// is checked with the broker first (it keeps URL tasks in memory only until they are sourced),
    /// keeping the piece digests this agent already learned. No manifest: why, when a URL task could not be
    /// brought back (the broker's refusal and its kind).
    /// </summary>
    private async Task<(Manifest? Manifest, string? Error, TaskErrorKind Kind)> ManifestForRunAsync(TaskEntry entry, CancellationToken stopping)
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
            return (held, null, TaskErrorKind.Other);
        }
        // A URL task the broker may have forgotten (it restarted): brought back, or waited for, a while.
        (Manifest? Manifest, string? Error, TaskErrorKind Kind) regained = (null, null, TaskErrorKind.Other);
        Manifest? fetched;
        if (held is { UrlTask: true })
        {
            regained = await RegainUrlTaskAsync(entry, stopping).ConfigureAwait(false);
            fetched = CheckFetched(entry, regained.Manifest);
        }
        else
        {
            fetched = await FetchManifestAsync(entry, stopping).ConfigureAwait(false);
        }
        if (fetched is null || held is null)
        {
            return (fetched, fetched is null ? regained.Error : null, regained.Kind);
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
        return (merged, null, TaskErrorKind.Other);
    }

    private async Task<string?> DownloadCoreAsync(TaskEntry entry, Manifest manifest, CancellationToken stopping)
    {
        var digest = entry.Digest;
        if (_content.HasContent(digest) && entry.Record.State == TaskState.Succeeded)
        {
            return null;
        }
        TaskDownloader downloader;
        ContentDigest? content;
        PieceBitmap held;
        bool publisher;
        lock (_gate)
        {
            held = PieceBitmap.FromBytes(entry.Record.Bitmap ?? [], manifest.Layout().PieceCount);
            publisher = entry.Record.Publisher;
        }
        // Joined first, so that the first parent set is on its way (into the task's inbox) while the record is
        // saved and the downloader made; and before the inbox is read: the scheduler takes piece digests only
        // from members, so a FetchSource waiting in the inbox must start after the join. A run that fails from
        // here on leaves the task (CompleteAsync).
        _scheduler.Join(digest, held, publisher);
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
            // A broker-registered manifest binds the piece digests to the content id, which is enough
            // for what a subscription announced. A digest someone asked for by name (dfget sha256:…,
            // or a URL with --digest) or an image blob (named by its image) is proven by hashing the
            // whole file: a manifest registered first by someone else must not answer for content it
            // does not hold. A URL task's source vouches for its piece digests and for what the whole
            // file hashes to alike, so a member takes its word for both; a seed is likely to be the
            // source itself, which hashes what it fetched, best in piece order while it arrives.
            // A content task's publisher also lists the hash's state at every piece boundary: a digest
            // asked for by name, or an image blob's, is then proven by the pieces' own checks in one
            // pass (PieceChain; the downloader hashes the file where the manifest has no chain).
            var namedDigest = entry.Waiters.Any(w => !entry.IsUrlTask || w.Expected is not null);
            var proof = entry.CacheOnly || namedDigest || (entry.IsUrlTask && _options.Seed)
                ? (entry.IsUrlTask ? WholeFileProof.Sha256 : WholeFileProof.PieceChain)
                : WholeFileProof.ManifestBinding;
            entry.Proof = proof;
            downloader = new TaskDownloader(manifest, entry.Record, _store, _content, _pieces, _fetcher, _scheduler,
                _transfer, _loggers.CreateLogger<TaskDownloader>(), _time, downloadLimit: entry.DownloadLimit,
                proof: proof);
            entry.Downloader = downloader;
            entry.State = TaskStates.Running;
            content = entry.IsUrlTask ? entry.Content : null;
        }
        downloader.ProgressChanged += _ => Notify(entry);
        if (content is { } learned)
        {
            downloader.ContentDigestLearned(learned);
        }
        Notify(entry);
        using var runEnded = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var pump = PumpAsync(entry, downloader, manifest.Layout().PieceCount, runEnded.Token);
        DownloadOutcome outcome;
        try
        {
            outcome = await downloader.RunAsync(stopping).ConfigureAwait(false);
        }
        finally
        {
            await runEnded.CancelAsync().ConfigureAwait(false);
            await pump.ConfigureAwait(false);
        }
        stopping.ThrowIfCancellationRequested();
        if (outcome.DiskFull)
        {
            lock (_gate)
            {
                entry.WaitingForSpace = true;
            }
        }
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

    /// <summary>During a run, the inbox's only reader: hands each scheduler event to the downloader.</summary>
    private async Task PumpAsync(TaskEntry entry, TaskDownloader downloader, int pieceCount, CancellationToken runEnded)
    {
        var inbox = entry.Inbox.Reader;
        try
        {
            while (await inbox.WaitToReadAsync(runEnded).ConfigureAwait(false))
            {
                // Once the run ended, what is left belongs to the task's loop (a late FetchSource).
                while (!runEnded.IsCancellationRequested && inbox.TryRead(out var message))
                {
                    if (message is TaskMessage.FromScheduler { Event: var e })
                    {
                        ApplySafely(entry, downloader, pieceCount, e);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (runEnded.IsCancellationRequested)
        {
        }
    }

    private void ApplySafely(TaskEntry entry, TaskDownloader downloader, int pieceCount, SchedulerEvent message)
    {
        try
        {
            Apply(entry, downloader, pieceCount, message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // One event the task could not act on must not end its run.
            AgentLog.SchedulerEventFailed(_logger, e, message.EventCase.ToString(), e.Message);
            if (message.EventCase == SchedulerEvent.EventOneofCase.FetchSource)
            {
                // Tell the scheduler at once, so that it picks another source instead of waiting on this one.
                ((ISwarmReporter)_scheduler).SourceFailed(entry.Digest, $"the agent could not start fetching from the origin: {e.Message}", permanent: false, TaskErrorKind.Other);
            }
        }
    }

    private void Apply(TaskEntry entry, TaskDownloader downloader, int pieceCount, SchedulerEvent message)
    {
        switch (message.EventCase)
        {
            case SchedulerEvent.EventOneofCase.Parents:
                // The ticket first: the new parents ask for it on the first request.
                downloader.UseTicket(message.Parents.Ticket.Memory);
                downloader.UpdateParents(ToParents(message.Parents, pieceCount));
                break;
            case SchedulerEvent.EventOneofCase.PieceAvailable:
                downloader.PiecesAvailable(message.PieceAvailable.PeerId, message.PieceAvailable.Indexes);
                foreach (var holder in message.PieceAvailable.More)
                {
                    downloader.PiecesAvailable(holder.PeerId, holder.Indexes); // merged news (Hello.merged_piece_news)
                }
                break;
            case SchedulerEvent.EventOneofCase.PieceDigests when message.PieceDigests.Indexes.Count == message.PieceDigests.Digests.Count:
                LearnDigests(downloader, message.PieceDigests);
                break;
            case SchedulerEvent.EventOneofCase.FetchSource:
                if (InvalidManifest(entry.Digest, message.FetchSource.Manifest) is { } refusal)
                {
                    ((ISwarmReporter)_scheduler).SourceFailed(entry.Digest, refusal, permanent: false, TaskErrorKind.Other);
                    break;
                }
                BecomeSource(entry, downloader, message.FetchSource);
                break;
            case SchedulerEvent.EventOneofCase.TaskSourced when ContentDigest.TryParse(message.TaskSourced.ContentDigest, out var content):
                lock (_gate)
                {
                    entry.Content = content;
                }
                downloader.ContentDigestLearned(content.Value);
                Notify(entry);
                break;
            case SchedulerEvent.EventOneofCase.NotJoined:
                JoinAgain(entry, downloader);
                break;
            case SchedulerEvent.EventOneofCase.TaskFailed:
                downloader.FailFromSwarm(message.TaskFailed.Error.Length > 0 ? message.TaskFailed.Error : "the URL task failed at its source",
                    TaskErrorKinds.FromWire(message.TaskFailed.Kind));
                break;
        }
    }

    private async Task<Manifest?> FetchManifestAsync(TaskEntry entry, CancellationToken stopping)
    {
        var manifest = await GetManifestPatientlyAsync(entry.Digest, stopping).ConfigureAwait(false);
        return CheckFetched(entry, manifest);
    }

    /// <summary>The broker's manifest of a task, checked against what the agent knows of it.</summary>
    private Manifest? CheckFetched(TaskEntry entry, Manifest? manifest)
    {
        if (manifest is not null)
        {
            CheckBrokerManifest(entry.Digest, manifest, entry.Record.Size, entry.Record.PieceSize);
        }
        return manifest;
    }

    /// <summary>
    /// A broker's manifest of <paramref name="digest"/>, from GetManifest or carried by its announcement: consistent,
    /// of that task, signed (secure mode), and of the announced layout. Throws <see cref="InvalidDataException"/>.
    /// </summary>
    private void CheckBrokerManifest(ContentDigest digest, Manifest manifest, long size, int pieceSize)
    {
        CheckManifest(digest, manifest);
        CheckSignature(digest, manifest);
        // The name may differ (same bytes published under another name); it only decides
        // the output path, which comes from the announcement. The layout must match.
        if (manifest.Size != size || manifest.PieceSize != pieceSize)
        {
            throw new InvalidDataException($"the broker's manifest of {digest} has another size or piece size than its announcement");
        }
    }

    /// <summary>
    /// The manifest an announcement carries, checked as one from GetManifest is (consistent, of the announced
    /// task and layout, signed by a broker of the fleet in secure mode). Null when there is none or it fails a
    /// check (logged; a bad signature is counted): the run then asks the scheduler, as without one.
    /// </summary>
    private Manifest? InlineManifestOf(Announcement announcement, ContentDigest digest)
    {
        if (announcement.Manifest is null || announcement.UrlTask)
        {
            return null;
        }
        try
        {
            var manifest = Manifests.FromInline(announcement.Manifest, out var error)
                ?? throw new InvalidDataException(error);
            if (manifest.UrlTask)
            {
                throw new InvalidDataException("it is a URL task's");
            }
            CheckBrokerManifest(digest, manifest, announcement.Size, announcement.PieceSize);
            return manifest;
        }
        catch (InvalidDataException e)
        {
            AgentLog.InlineManifestIgnored(_logger, digest.ToString(), e.Message);
            return null;
        }
    }

    /// <summary>
    /// In secure mode a content task's piece digests must carry a broker's signature (issue 11): they decide
    /// which bytes land, and a subscription does not hash the whole file again. A manifest changed in the
    /// broker's store after it was registered fails here, before a piece is fetched.
    /// </summary>
    private void CheckSignature(ContentDigest digest, Manifest manifest)
    {
        if (_runtime.Identity is not { } identity || manifest.UrlTask)
        {
            return;
        }
        var (verdict, reason) = AnnouncementSignatureCheck.Verify(identity.Current, manifest.Signer, manifest.Signature, ManifestSigning.BytesToSign(manifest));
        if (verdict != SignatureVerdict.Valid)
        {
            AnnouncementMetrics.ManifestsRejected.WithLabels(AnnouncementSignatureCheck.Label(verdict)).Inc();
            throw new InvalidDataException($"the broker's manifest of {digest} was refused: {reason}; its piece digests are not the ones the broker registered (publish it again, and check who can write the broker's state store)");
        }
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
}
