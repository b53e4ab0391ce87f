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
    /// <summary>The content-store path of <paramref name="digest"/> when this agent holds it complete, else null.</summary>
    internal string? CompletedContentPath(ContentDigest digest)
    {
        lock (_gate)
        {
            if (!_tasks.TryGetValue(digest, out var entry) || entry.State != TaskStates.Succeeded || (entry.IsUrlTask && entry.Content != digest))
            {
                return null;
            }
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
                    _tasks[digest] = entry;
                    StartRun(entry);
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
                // Held or on its way already (pulled through the mirror, or a retained copy of the
                // announcement). A newer announcement (another preheat job) retries a failed one.
                var newer = announcement.CreatedAt > known.AnnouncedAt;
                if (newer)
                {
                    known.AnnouncedAt = announcement.CreatedAt;
                }
                if (newer && known.State == TaskStates.Failed)
                {
                    ResetForRetry(known, fresh: null);
                    StartRun(known);
                }
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
            _tasks[digest] = entry;
            AgentLog.ImageBlobAnnounced(_logger, digest.ToString(), announcement.Topic, ByteSize.Format(announcement.Size));
            StartRun(entry);
        }
    }

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
