using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Tasks;

// Image blobs: preheat announcements (kept in the content store only) and the registry mirror's
// blobs, fetched through the swarm as content-addressed URL tasks (task id = blob digest).
public sealed partial class TaskManager
{
    // Blobs of image announcements whose manifests are being asked for (guarded by _gate): one look-up each
    // when the retained announcement arrives again (reconnect) or on several topics meanwhile.
    private readonly HashSet<ContentDigest> _imageBlobsResolving = [];

    /// <summary>The content-store path of <paramref name="digest"/> when this agent holds it complete, else null.</summary>
    internal string? CompletedContentPath(ContentDigest digest)
    {
        lock (_gate)
        {
            if (!_tasks.TryGetValue(digest, out var entry) || entry.State != TaskStates.Succeeded || (entry.IsUrlTask && entry.Content != digest))
            {
                return null;
            }
            TouchLocked(entry);
        }
        var path = _content.ContentPath(digest);
        return File.Exists(path) ? path : null;
    }

    /// <summary>
    /// Gets an image blob into the content store through the swarm and returns the final snapshot
    /// (<c>Path</c> = the content-store path when it succeeded). A task already known for the digest
    /// (preheated, or being pulled) is waited for; otherwise the blob URL is registered with the
    /// broker as a content-addressed URL task, whose source fetches it with
    /// <paramref name="authorization"/>. That value goes to the broker only: never into the task
    /// record, logs or the local API.
    /// </summary>
    /// <exception cref="UserFacingException">The broker refused the registration or cannot be reached.</exception>
    /// <exception cref="InvalidDataException">The broker answered with an unusable manifest.</exception>
    internal async Task<TaskInfo> FetchImageBlobAsync(ContentDigest digest, Uri url, string? authorization, CancellationToken cancellationToken)
    {
        var waiter = new DownloadWaiter(output: null, expected: digest);
        TaskEntry? entry;
        lock (_gate)
        {
            _tasks.TryGetValue(digest, out entry);
        }
        if (entry is not null && entry.State != TaskStates.Failed)
        {
            AddWaiter(entry, waiter, fresh: null, limit: 0);
        }
        else
        {
            var register = new RegisterUrlTaskRequest
            {
                Url = url.AbsoluteUri,
                ExpectedDigest = digest.ToString(),
                ContentAddressed = true,
                Name = ImageBlobs.NameOf(digest),
                Requester = _runtime.PeerId,
            };
            register.Labels[ImageBlobLabels.Kind] = ImageBlobLabels.ImageBlob;
            if (authorization is not null)
            {
                register.Headers.Add(new Header { Name = "Authorization", Value = authorization });
            }
            var manifest = await _scheduler.RegisterUrlTaskAsync(register, UrlForMessages(url), cancellationToken).ConfigureAwait(false);
            var taskId = CheckUrlManifest(manifest);
            if (taskId != digest)
            {
                throw new InvalidDataException($"the broker registered blob {digest} as task {taskId}; it must be content-addressed");
            }
            manifest = ImageBlobs.Mark(manifest);
            lock (_gate)
            {
                if (!_tasks.TryGetValue(digest, out entry))
                {
                    var record = NewPendingRecord(digest, ImageBlobs.NameOf(digest), "", manifest.Layout(), manifest);
                    _store.Save(record);
                    entry = new TaskEntry(digest, record)
                    {
                        Manifest = manifest,
                        Registered = true,
                        CacheOnly = true,
                        // Content-addressed: the bytes must hash to the task id itself.
                        Content = digest,
                    };
                    Register(entry);
                }
            }
            AgentLog.ImageBlobRequested(_logger, digest.ToString(), UrlForMessages(url), ByteSize.Format(manifest.Size));
            AddWaiter(entry, waiter, fresh: manifest, limit: 0);
        }

        try
        {
            // The final snapshot is the last one: the stream completes right after it.
            TaskInfo? last = null;
            await foreach (var info in waiter.Updates.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                last = info;
            }
            return last is { IsFinished: true } ? last : throw new OperationCanceledException("the agent stopped before the blob was fetched");
        }
        finally
        {
            CancelWaiter(digest, waiter);
        }
    }

    /// <summary>A preheated blob: downloaded into the content store only, never placed under output-dir.</summary>
    private void OnImageBlobAnnouncement(ContentDigest digest, Announcement announcement)
    {
        lock (_gate)
        {
            if (_tasks.TryGetValue(digest, out var known))
            {
                RetryIfNewerLocked(known, announcement.CreatedAt);
                return;
            }
            var record = NewPendingRecord(digest, announcement.Name, announcement.Topic, new PieceLayout(announcement.Size, announcement.PieceSize), manifest: null);
            _store.Save(record);
            var entry = new TaskEntry(digest, record)
            {
                AnnouncedAt = announcement.CreatedAt,
                UrlTaskAnnounced = announcement.UrlTask,
                CacheOnly = true,
                Content = ContentDigest.TryParse(announcement.ContentDigest, out var content) ? content
                    : announcement.UrlTask ? null : digest,
            };
            AgentLog.ImageBlobAnnounced(_logger, digest.ToString(), announcement.Topic, ByteSize.Format(announcement.Size));
            Register(entry);
        }
    }

    /// <summary>
    /// Held or on its way already (pulled through the mirror, or a retained copy of the announcement).
    /// A newer announcement (another preheat job) retries a failed one. Under the lock.
    /// </summary>
    private void RetryIfNewerLocked(TaskEntry known, DateTimeOffset announcedAt)
    {
        var newer = announcedAt > known.AnnouncedAt;
        if (newer)
        {
            known.AnnouncedAt = announcedAt;
        }
        if (newer && known.State == TaskStates.Failed)
        {
            ResetForRetry(known, fresh: null);
            known.Inbox.RequestRun();
        }
    }

    /// <summary>
    /// An image announcement (a preheat job that succeeded): not a task, nothing of its own is recorded
    /// or listed. Every listed blob this agent neither holds nor is fetching becomes a cache-only
    /// download exactly as its own announcement would make it; a known one is left alone, or retried
    /// when it failed and this announcement is newer. The blobs' layouts come from the broker
    /// (<c>GetManifest</c>), so they are recorded in the background rather than before the MQTT
    /// acknowledgement: the announcement is retained and delivered again at every (re)subscription.
    /// </summary>
    private void OnImageAnnouncement(Announcement image)
    {
        var missing = new List<ContentDigest>();
        lock (_gate)
        {
            foreach (var blob in image.Blobs)
            {
                var digest = ContentDigest.Parse(blob);
                if (_tasks.TryGetValue(digest, out var known))
                {
                    RetryIfNewerLocked(known, image.CreatedAt);
                }
                else if (_imageBlobsResolving.Add(digest))
                {
                    missing.Add(digest);
                }
            }
        }
        AgentLog.ImageAnnounced(_logger, image.Digest, ImageOf(image), image.Topic, image.Blobs.Count, missing.Count);
        if (missing.Count > 0)
        {
            Track(Task.Run(() => PrefetchImageBlobsAsync(image, missing, _stopping.Token)));
        }
    }

    /// <summary>Asks the broker for each blob's manifest and starts its cache-only download.</summary>
    private async Task PrefetchImageBlobsAsync(Announcement image, IReadOnlyList<ContentDigest> blobs, CancellationToken stopping)
    {
        try
        {
            foreach (var digest in blobs)
            {
                string? skipped;
                try
                {
                    skipped = await PrefetchImageBlobAsync(image, digest, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return; // shutting down: the retained announcement comes again at the next start
                }
                catch (Exception e)
                {
                    // One blob the broker answers badly for (or that cannot be recorded) must not stop the others.
                    skipped = e.Message;
                }
                if (skipped is not null)
                {
                    AgentLog.ImageBlobSkipped(_logger, digest.ToString(), ImageOf(image), image.Topic, skipped);
                }
                lock (_gate)
                {
                    _imageBlobsResolving.Remove(digest);
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _imageBlobsResolving.ExceptWith(blobs);
            }
        }
    }

    /// <summary>One blob of an image announcement; the reason when it is skipped.</summary>
    private async Task<string?> PrefetchImageBlobAsync(Announcement image, ContentDigest digest, CancellationToken stopping)
    {
        var manifest = await GetManifestPatientlyAsync(digest, stopping).ConfigureAwait(false);
        if (manifest is null)
        {
            return $"broker {_scheduler.BrokerAddress} does not know it";
        }
        CheckManifest(digest, manifest);
        if (manifest.UrlTask && manifest.ContentDigest.Length > 0 && manifest.ContentDigest != digest.ToString())
        {
            return $"the broker's task {digest} holds content {manifest.ContentDigest}; a blob's task must be content-addressed";
        }
        manifest = ImageBlobs.Mark(manifest);
        lock (_gate)
        {
            if (_tasks.ContainsKey(digest))
            {
                return null; // announced on its own or pulled through the mirror meanwhile
            }
            var record = NewPendingRecord(digest, ImageBlobs.NameOf(digest), image.Topic, manifest.Layout(), manifest);
            _store.Save(record);
            var entry = new TaskEntry(digest, record)
            {
                Manifest = manifest,
                // The broker has just answered for the task: no need to ask again before joining it.
                Registered = true,
                AnnouncedAt = image.CreatedAt,
                CacheOnly = true,
                // Content-addressed: the bytes must hash to the task id itself.
                Content = digest,
            };
            Register(entry);
        }
        AgentLog.ImageBlobAnnounced(_logger, digest.ToString(), image.Topic, ByteSize.Format(manifest.Size));
        return null;
    }

    private static string ImageOf(Announcement image) => image.Labels.GetValueOrDefault(ImageBlobLabels.Image, image.Name);

    /// <summary>
    /// Whether a stored task is an image blob (content store only): marked so in its manifest, or,
    /// before its manifest was fetched, an announced task without an output path (every other
    /// kind of task records its manifest or its output when it is created).
    /// </summary>
    private static bool IsCacheOnly(TaskRecord record, Manifest? manifest) =>
        manifest is not null
            ? ImageBlobs.IsImageBlob(manifest.Labels)
            : record.OutputPath is null && !record.Publisher;

    /// <summary>Where the task's complete content lives in the content store.</summary>
    private string StorePath(TaskEntry entry) => _content.ContentPath(entry.Digest);
}
