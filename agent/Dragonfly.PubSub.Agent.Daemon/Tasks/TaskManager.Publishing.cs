using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Google.Protobuf;
using PublishRequest = Dragonfly.PubSub.Client.PublishRequest;

namespace Dragonfly.PubSub.Agent.Tasks;

// Publishing a local file in place (reflink or hard link into the content store) and guarding it:
// a published file changed under the swarm is checked again, then served or dropped.
public sealed partial class TaskManager
{
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
                var known = entry is not null;
                entry ??= new TaskEntry(digest, record);
                entry.State = TaskStates.Succeeded;
                if (!known)
                {
                    Register(entry);
                }
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
        _pieces.AddComplete(digest, layout, _content.ContentPath(digest), guard, firstCopy: true);
        Notify(entry);

        await _scheduler.PublishAsync(manifest, cancellationToken).ConfigureAwait(false);
        // The broker made this agent the task's publisher member inside Publish, before announcing it. The
        // join is for a broker where this agent's stream is not (yet) connected: joins of tasks a broker does
        // not know are ignored, so it can only come after Publish; the subscribers already waiting then get it.
        _scheduler.Join(digest, PieceBitmap.Full(layout.PieceCount), publisher: true);
        AgentLog.Published(_logger, digest.ToString(), name, request.Topic, ByteSize.Format(manifest.Size));
        return new PublishResult(digest.ToString(), name, manifest.Size, request.Topic, manifest.PieceSize, layout.PieceCount);
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
}
