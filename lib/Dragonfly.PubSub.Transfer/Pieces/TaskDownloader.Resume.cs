using System.Buffers;
using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Storage;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

// What a run starts from: the manifest checked, the record prepared (a URL task's learned digests
// merged back), content already stored, and the partial file of an earlier run.
public sealed partial class TaskDownloader
{
    /// <summary>What a download relies on (name and topic are the host's business).</summary>
    private string? CheckManifest()
    {
        if (_manifest.Size < 0 || _manifest.PieceSize < PieceLayout.MinPieceSize || _manifest.PieceSize > PieceLayout.MaxPieceSize
            || !_manifest.Layout().IsSupported)
        {
            return $"size {_manifest.Size} or piece size {_manifest.PieceSize} is out of range";
        }
        if (_urlTask)
        {
            // Digests arrive as the source fetches: none yet, or one entry per piece with empty ones unknown.
            if (_manifest.PieceDigests.Count != 0 && _manifest.PieceDigests.Count != _layout.PieceCount)
            {
                return $"it lists {_manifest.PieceDigests.Count} piece digests, the layout needs {_layout.PieceCount} (or none yet)";
            }
            if (_manifest.PieceDigests.Any(d => d.Length != 0 && d.Length != SHA256.HashSizeInBytes))
            {
                return "a piece digest is neither 32 bytes long nor empty";
            }
            return _manifest.ContentDigest.Length > 0 && !ContentDigest.TryParse(_manifest.ContentDigest, out _)
                ? $"content digest '{_manifest.ContentDigest}' is not sha256:<hex>"
                : null;
        }
        if (_manifest.PieceDigests.Count != _layout.PieceCount)
        {
            return $"it lists {_manifest.PieceDigests.Count} piece digests, the layout needs {_layout.PieceCount}";
        }
        return _manifest.PieceDigests.Any(d => d.Length != SHA256.HashSizeInBytes)
            ? "a piece digest is not 32 bytes long"
            : null;
    }

    private void PrepareRecord()
    {
        var now = _time.GetUtcNow().UtcDateTime;
        _record.Id = Digest.ToString();
        _record.Name = string.IsNullOrEmpty(_record.Name) ? _manifest.Name : _record.Name;
        _record.Topic = string.IsNullOrEmpty(_record.Topic) ? _manifest.Topic : _record.Topic;
        _record.Bitmap ??= [];
        _record.ManifestBytes ??= [];
        if (_record.PieceSize != _layout.PieceSize || _record.PieceCount != _layout.PieceCount)
        {
            _record.Bitmap = []; // another layout (or none recorded): what was done does not carry over
        }
        _record.Size = _layout.Size;
        _record.PieceSize = _layout.PieceSize;
        _record.PieceCount = _layout.PieceCount;
        if (_urlTask)
        {
            MergeRecordManifest();
            _savedDigests = new bool[_layout.PieceCount];
            _record.ManifestBytes = BuildManifestBytes(_savedDigests, null);
        }
        else if (_record.ManifestBytes.Length == 0)
        {
            _record.ManifestBytes = _manifest.ToByteArray();
        }
        if (_record.CreatedAt == default)
        {
            _record.CreatedAt = now;
        }
        _record.UpdatedAt = now;
    }

    /// <summary>
    /// Takes the digests an earlier run of this URL task learned (kept in the record's manifest)
    /// for pieces the scheduler has not named yet, so the pieces it kept can be verified.
    /// </summary>
    private void MergeRecordManifest()
    {
        if (_record.ManifestBytes.Length == 0)
        {
            return;
        }
        Manifest stored;
        try
        {
            stored = Manifest.Parser.ParseFrom(_record.ManifestBytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return;
        }
        if (stored.Size != _layout.Size || stored.PieceSize != _layout.PieceSize)
        {
            return;
        }
        var added = false;
        for (var i = 0; i < Math.Min(_digests.Length, stored.PieceDigests.Count); i++)
        {
            if (stored.PieceDigests[i].Length == SHA256.HashSizeInBytes
                && Interlocked.CompareExchange(ref _digests[i], stored.PieceDigests[i].ToByteArray(), null) is null)
            {
                added = true;
            }
        }
        if (added)
        {
            Interlocked.Increment(ref _digestVersion);
        }
        if (ContentDigest.TryParse(stored.ContentDigest, out var content))
        {
            _recordContent = content;
        }
    }

    /// <summary>
    /// The task's manifest with every digest known now (empty entries for the others) and the
    /// content digest, serialized for the record. Marks in <paramref name="saved"/> which digests it holds.
    /// </summary>
    private byte[] BuildManifestBytes(bool[]? saved, ContentDigest? content)
    {
        var manifest = _manifest.Clone();
        manifest.PieceDigests.Clear();
        for (var i = 0; i < _digests.Length; i++)
        {
            var digest = Volatile.Read(ref _digests[i]);
            manifest.PieceDigests.Add(digest is null ? ByteString.Empty : ByteString.CopyFrom(digest));
            if (saved is not null)
            {
                saved[i] = digest is not null;
            }
        }
        if ((content ?? KnownContent) is { } known)
        {
            manifest.ContentDigest = known.ToString();
        }
        return manifest.ToByteArray();
    }

    /// <summary>
    /// The content store already holds the task. A content task is done. A URL task's stored file
    /// is checked against what is known of its content (hashing it when the record does not say
    /// what it hashes to, or when the source must report piece digests it lacks); a stale copy is
    /// dropped and null returned, so the download starts afresh.
    /// </summary>
    private async Task<DownloadOutcome?> CompleteStoredAsync(long startedAt, CancellationToken ct)
    {
        var path = _content.ContentPath(Digest);
        if (!_urlTask)
        {
            return Complete(path, startedAt, Digest);
        }
        var source = CurrentSourceRequest;
        var stored = _recordContent;
        byte[][]? hashed = null;
        string? stale = null;
        try
        {
            if (new FileInfo(path).Length != _layout.Size)
            {
                stale = "its size differs from the origin's";
            }
            else if (stored is null || (source is not null && _digests.Any(d => d is null)))
            {
                (hashed, var whole) = await HashStoredAsync(path, ct).ConfigureAwait(false);
                stored = whole;
                for (var i = 0; i < hashed.Length && stale is null; i++)
                {
                    if (Volatile.Read(ref _digests[i]) is { } known && !known.AsSpan().SequenceEqual(hashed[i]))
                    {
                        stale = $"piece {i} does not match its digest";
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stale = $"it cannot be read: {e.Message}";
        }
        if (stale is null && KnownContent is { } expected && expected != stored)
        {
            stale = $"it hashes to {stored}, not to {expected}";
        }
        if (stale is null && source?.Expected is { } wanted && wanted != stored)
        {
            stale = $"it hashes to {stored}, not to the expected {wanted}";
        }
        if (stale is not null)
        {
            TransferLog.StoredContentStale(_logger, Digest, stale);
            _pieces.Remove(Digest);
            ContentStore.TryDelete(path);
            _record.Bitmap = [];
            return null;
        }
        var content = stored!.Value;
        if (hashed is not null)
        {
            for (var i = 0; i < hashed.Length; i++)
            {
                Interlocked.CompareExchange(ref _digests[i], hashed[i], null);
            }
            Interlocked.Increment(ref _digestVersion);
        }
        if (source is not null)
        {
            var indexes = Enumerable.Range(0, _layout.PieceCount).ToArray();
            _reporter.PiecesSourced(Digest, indexes, indexes.Select(i => Volatile.Read(ref _digests[i])!).ToArray());
        }
        var outcome = Complete(path, startedAt, content);
        if (source is not null)
        {
            ReportSourceEnd(source, outcome, content);
        }
        return outcome;
    }

    /// <summary>Each piece's SHA-256 and the whole file's, in one pass over a stored file (as publishing hashes one).</summary>
    private async Task<(byte[][] Pieces, ContentDigest Whole)> HashStoredAsync(string path, CancellationToken ct)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 0,
            FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (stream.ConfigureAwait(false))
        {
            var manifest = await Manifests.BuildAsync(stream, _layout.Size, Digest.Hex, _layout.PieceSize, null, null, ct).ConfigureAwait(false);
            return (manifest.PieceDigests.Select(d => d.ToByteArray()).ToArray(), ContentDigest.Parse(manifest.Digest));
        }
    }

    private SafeFileHandle OpenPartial(string path, ref PieceBitmap done)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var existed = File.Exists(path);
        if (!existed && done.CountSet > 0)
        {
            TransferLog.PartialDiscarded(_logger, Digest, "the partial file is gone");
            done = new PieceBitmap(_layout.PieceCount);
        }
        var file = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            if (RandomAccess.GetLength(file) != _layout.Size)
            {
                if (existed && done.CountSet > 0)
                {
                    TransferLog.PartialDiscarded(_logger, Digest, "the partial file has the wrong size");
                    done = new PieceBitmap(_layout.PieceCount);
                }
                RandomAccess.SetLength(file, _layout.Size);
            }
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
