using System.Security.Cryptography;
using System.Threading.Channels;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Storage;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

// How a run ends: the whole file checked against what it must be, the content store and record
// updated, the source's end reported, or what was fetched discarded.
public sealed partial class TaskDownloader
{
    /// <summary>
    /// A URL task's whole file against what it must be: the source's expected digest (a mismatch
    /// fails the task for everyone), then the content digest the scheduler or the user named.
    /// </summary>
    private string? CheckUrlContent(ContentDigest actual, SourceRequest? source)
    {
        if (source?.Expected is { } expected && expected != actual)
        {
            var error = $"{source.Source.Description} hashes to {actual}, not to the expected {expected}";
            TransferLog.SourceGaveUp(_logger, Digest, source.Source.Description, true, error);
            _reporter.SourceFailed(Digest, error, true, TaskErrorKind.DigestMismatch);
            return error;
        }
        if (KnownContent is { } known && known != actual)
        {
            var error = $"the downloaded file hashes to {actual}, not to {known}, the content digest of task {Digest}";
            if (source is not null)
            {
                TransferLog.SourceGaveUp(_logger, Digest, source.Source.Description, true, error);
                _reporter.SourceFailed(Digest, error, true, TaskErrorKind.DigestMismatch);
            }
            return error;
        }
        return null;
    }

    /// <summary>The source has the whole file (or could not keep it): tell the scheduler.</summary>
    private void ReportSourceEnd(SourceRequest source, DownloadOutcome outcome, ContentDigest content)
    {
        if (outcome.Succeeded)
        {
            TransferLog.SourceFinished(_logger, Digest, source.Source.Description, content);
            _reporter.SourceDone(Digest, content);
        }
        else
        {
            _reporter.SourceFailed(Digest, outcome.Error ?? "the source could not keep the file", false, outcome.ErrorKind);
        }
    }

    /// <summary>What was fetched must not be resumed (the content is wrong or the task failed for good).</summary>
    private void Discard(string? partialPath)
    {
        _pieces.Remove(Digest);
        _record.Bitmap = [];
        if (_urlTask)
        {
            // Learned digests may describe content the origin no longer has: keep only the scheduler's.
            _record.ManifestBytes = _manifest.ToByteArray();
        }
        _file?.Dispose();
        ContentStore.TryDelete(partialPath ?? _content.PartialPath(Digest));
    }

    private DownloadOutcome Complete(string path, long startedAt, ContentDigest content)
    {
        // Fetched from the origin as the task's source: the swarm's first copy.
        var firstCopy = _record.BytesFromSource > 0;
        _pieces.MoveToComplete(Digest, path, firstCopy);
        if (!_pieces.Contains(Digest))
        {
            _pieces.AddComplete(Digest, _layout, path, firstCopy: firstCopy);
        }
        _record.State = TaskState.Succeeded;
        _record.Error = null;
        _record.ErrorKind = TaskErrorKind.Other;
        _record.Bitmap = PieceBitmap.Full(_layout.PieceCount).ToBytes();
        _record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
        if (_urlTask)
        {
            // Every digest and what the file hashes to, so a later source or restart need not hash it again.
            _record.ManifestBytes = BuildManifestBytes(null, content);
        }
        try
        {
            _store.Save(_record);
        }
        catch (Exception e) when (e is LiteDB.LiteException or IOException or ObjectDisposedException)
        {
            return Fail($"the download finished but the agent database could not record it: {e.Message}");
        }
        var progress = new DownloadProgress(_layout.PieceCount, _layout.PieceCount, _layout.Size, _record.BytesFromPeers, _record.BytesFromSource);
        SetProgress(progress);
        RaiseProgress(progress);
        TransferLog.DownloadFinished(_logger, Digest, _layout.Size, _record.BytesFromPeers, _record.BytesFromSource,
            _time.GetElapsedTime(startedAt).TotalSeconds);
        return DownloadOutcome.Success(content);
    }

    private DownloadOutcome Fail(string error, TaskErrorKind kind = TaskErrorKind.Other)
    {
        TransferLog.DownloadFailed(_logger, Digest, error);
        _record.State = TaskState.Failed;
        _record.Error = error;
        _record.ErrorKind = kind;
        _record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
        try
        {
            if (_record.Id.Length > 0)
            {
                _store.Save(_record);
            }
        }
        catch (Exception e) when (e is LiteDB.LiteException or IOException or ObjectDisposedException or ArgumentException)
        {
            // The failure itself is what the caller needs to hear about.
        }
        return DownloadOutcome.Failure(error) with { DiskFull = Volatile.Read(ref _diskFull) != 0, ErrorKind = kind };
    }

    private void SetProgress(DownloadProgress progress)
    {
        lock (_progressLock)
        {
            _progress = progress;
        }
    }

    private void RaiseProgress(DownloadProgress progress)
    {
        try
        {
            ProgressChanged?.Invoke(progress);
        }
        catch (Exception e)
        {
            TransferLog.ProgressListenerFailed(_logger, Digest, e);
        }
    }
}
