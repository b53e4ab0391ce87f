using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Storage;

/// <summary>
/// Content-addressed files under the data directory: complete artifacts in
/// <c>content/sha256/&lt;hex&gt;</c>, downloads in progress in <c>partial/&lt;hex&gt;</c>. Files only
/// ever appear under their final name complete (temp file, then rename).
/// </summary>
public sealed class ContentStore
{
    private readonly string _contentDir;
    private readonly string _partialDir;

    public ContentStore(string dataDir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDir);
        var root = Path.GetFullPath(dataDir);
        _contentDir = Path.Combine(root, "content", "sha256");
        _partialDir = Path.Combine(root, "partial");
    }

    public string ContentPath(ContentDigest digest) => Path.Combine(_contentDir, digest.Hex);

    public string PartialPath(ContentDigest digest) => Path.Combine(_partialDir, digest.Hex);

    public bool HasContent(ContentDigest digest) => File.Exists(ContentPath(digest));

    /// <summary>Removes the stored content of <paramref name="digest"/>, if any (best effort).</summary>
    public void DeleteContent(ContentDigest digest) => TryDelete(ContentPath(digest));

    /// <summary>Removes the partial file of a download, if any.</summary>
    public void DeletePartial(ContentDigest digest) => File.Delete(PartialPath(digest));

    /// <summary>Removes a task's complete content and partial download, if any (best effort; open readers keep theirs).</summary>
    public void Remove(ContentDigest digest)
    {
        TryDelete(ContentPath(digest));
        TryDelete(PartialPath(digest));
    }

    /// <summary>Removes one listed file (best effort).</summary>
    public static void Remove(StoredFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        TryDelete(file.Path);
    }

    /// <summary>
    /// The store's own files: complete content and partial downloads, named by their task id.
    /// Temporary files (imports, placements) are not listed: they belong to an operation running now.
    /// </summary>
    public IReadOnlyList<StoredFile> ListFiles()
    {
        var files = new List<StoredFile>();
        foreach (var (dir, partial) in (ReadOnlySpan<(string, bool)>)[(_contentDir, false), (_partialDir, true)])
        {
            if (!Directory.Exists(dir))
            {
                continue;
            }
            foreach (var path in Directory.EnumerateFiles(dir))
            {
                var hex = Path.GetFileName(path);
                if (!ContentDigest.TryParse(ContentDigest.Prefix + hex, out var digest))
                {
                    continue;
                }
                if (NativeFiles.StatUsage(path) is { } usage)
                {
                    files.Add(new StoredFile(digest.Value, partial, path, usage.Allocated, (int)Math.Min(usage.Links, int.MaxValue),
                        new DateTime(usage.ChangedTicks, DateTimeKind.Utc)));
                }
            }
        }
        return files;
    }

    /// <summary>
    /// Publishes a local file without copying its bytes where the filesystem allows: a reflink
    /// (FICLONE) that is then hashed, else the file is hashed where it lies and hard-linked into the
    /// store (its stamp returned as the guard the server checks), else — on another filesystem, or
    /// where links are refused — it is copied while hashed (<see cref="ImportAsync"/>). Every way
    /// reads the file once.
    /// </summary>
    /// <exception cref="UserFacingException">The file is missing or unreadable (exit 2), or changed while it was read.</exception>
    public async Task<ImportResult> ImportInPlaceAsync(
        string sourcePath, string name, int? pieceSize, IProgress<long>? progress, CancellationToken ct)
    {
        if (ArtifactName.Validate(name) is { } nameError)
        {
            throw UserFacingException.Usage(nameError);
        }
        Directory.CreateDirectory(_contentDir);
        SafeFileHandle source;
        try
        {
            source = File.OpenHandle(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserFacingException($"file {sourcePath} does not exist; give the path of the file to publish", ExitCodes.Usage, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"cannot read {sourcePath}: {e.Message}", ExitCodes.Usage, e);
        }
        using (source)
        {
            var size = RandomAccess.GetLength(source);
            PieceLayout layout;
            try
            {
                layout = PieceLayout.For(size, pieceSize);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new UserFacingException(e.Message.Split(Environment.NewLine)[0], ExitCodes.Usage, e);
            }
            var temp = Path.Combine(_contentDir, $".import-{Guid.NewGuid():N}");
            try
            {
                if (await TryCloneAsync(source, temp, size, name, layout, progress, ct).ConfigureAwait(false) is { } cloned)
                {
                    return cloned;
                }
                var before = FileStamp.Of(sourcePath);
                var manifest = await InPlaceHasher.BuildAsync(source, size, name, layout.PieceSize, progress, ct).ConfigureAwait(false);
                var final = ContentPath(ContentDigest.Parse(manifest.Digest));
                if (File.Exists(final))
                {
                    return new ImportResult(manifest, ImportMethod.AlreadyStored, null);
                }
                if (before is not null && NativeFiles.HardLink(sourcePath, temp) == 0)
                {
                    // Linked after hashing: the link must still be the file that was hashed, unchanged.
                    if (FileStamp.Of(temp) != before)
                    {
                        throw new UserFacingException($"{sourcePath} changed while it was published; publish it again once it is complete");
                    }
                    File.Move(temp, final, overwrite: true);
                    return new ImportResult(manifest, ImportMethod.Linked, before);
                }
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
        }
        // Another filesystem, or links refused (protected_hardlinks, a foreign owner): copy while hashing.
        var copied = await ImportAsync(sourcePath, name, pieceSize, progress, ct).ConfigureAwait(false);
        return new ImportResult(copied, ImportMethod.Copied, null);
    }

    /// <summary>
    /// Hashes stored content where it lies (a guarded file whose stamp changed). Returns its new
    /// stamp when it still is the content <paramref name="digest"/> names, else null.
    /// </summary>
    public async Task<FileStamp?> ReverifyAsync(ContentDigest digest, int pieceSize, CancellationToken ct)
    {
        var path = ContentPath(digest);
        try
        {
            var before = FileStamp.Of(path);
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.SequentialScan);
            var manifest = await InPlaceHasher.BuildAsync(file, RandomAccess.GetLength(file), digest.Hex, pieceSize, null, ct).ConfigureAwait(false);
            return manifest.Digest == digest.ToString() && FileStamp.Of(path) == before ? before : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>A reflink of the source, hashed and stored; null when the filesystem cannot clone.</summary>
    private async Task<ImportResult?> TryCloneAsync(SafeFileHandle source, string temp, long size, string name, PieceLayout layout,
        IProgress<long>? progress, CancellationToken ct)
    {
        Manifest manifest;
        using (var target = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None))
        {
            if (size == 0 || !NativeFiles.TryClone(source, target))
            {
                target.Dispose();
                TryDelete(temp);
                return null;
            }
            // The clone is a private snapshot: hash it, not the file that may still change.
            manifest = await InPlaceHasher.BuildAsync(target, size, name, layout.PieceSize, progress, ct).ConfigureAwait(false);
            RandomAccess.FlushToDisk(target);
        }
        var final = ContentPath(ContentDigest.Parse(manifest.Digest));
        if (File.Exists(final))
        {
            TryDelete(temp);
            return new ImportResult(manifest, ImportMethod.AlreadyStored, null);
        }
        File.Move(temp, final, overwrite: true);
        return new ImportResult(manifest, ImportMethod.Cloned, null);
    }

    /// <summary>
    /// Copies a local file into the store in one pass while hashing it, and returns its manifest
    /// (name, size, piece size, digests; topic, publisher and labels are the caller's).
    /// </summary>
    public async Task<Manifest> ImportAsync(
        string sourcePath, string name, int? pieceSize, IProgress<long>? progress, CancellationToken ct)
    {
        if (ArtifactName.Validate(name) is { } nameError)
        {
            throw UserFacingException.Usage(nameError);
        }
        FileStream source;
        try
        {
            source = new FileStream(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UserFacingException($"file {sourcePath} does not exist; give the path of the file to publish", ExitCodes.Usage, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"cannot read {sourcePath}: {e.Message}", ExitCodes.Usage, e);
        }

        await using (source.ConfigureAwait(false))
        {
            var size = source.Length;
            PieceLayout layout;
            try
            {
                layout = PieceLayout.For(size, pieceSize);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new UserFacingException(e.Message.Split(Environment.NewLine)[0], ExitCodes.Usage, e);
            }

            Directory.CreateDirectory(_contentDir);
            var temp = Path.Combine(_contentDir, $".import-{Guid.NewGuid():N}");
            try
            {
                Manifest manifest;
                using (var target = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.None, size))
                {
                    manifest = await Manifests.BuildAsync(source, size, name, layout.PieceSize,
                        (index, piece, _) =>
                        {
                            RandomAccess.Write(target, piece.Span, layout.OffsetOf(index));
                            return ValueTask.CompletedTask;
                        },
                        progress, ct).ConfigureAwait(false);
                    RandomAccess.FlushToDisk(target);
                }
                var digest = ContentDigest.Parse(manifest.Digest);
                var final = ContentPath(digest);
                if (File.Exists(final))
                {
                    // Same digest, same bytes: keep the copy that may already be served.
                    File.Delete(temp);
                }
                else
                {
                    File.Move(temp, final, overwrite: true);
                }
                return manifest;
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
        }
    }

    /// <summary>
    /// Puts complete content at <paramref name="outputPath"/> atomically (a temp name in the target
    /// folder, then a rename over the target; never a partial file there). The temp name is a hard
    /// link to the stored file, so no byte is copied; a copy is made only when a link is impossible
    /// (another filesystem, links refused). A linked output shares its bytes with what the agent
    /// serves: edited in place, its pieces fail the peers' verification (as disk rot would), and
    /// the scheduler routes around this agent. Returns whether the output was linked.
    /// </summary>
    public async Task<bool> PlaceAsync(ContentDigest digest, string outputPath, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        var source = ContentPath(digest);
        if (!File.Exists(source))
        {
            throw new UserFacingException($"{digest} is not in the content store at {source}; download it first");
        }
        var target = Path.GetFullPath(outputPath);
        var dir = Path.GetDirectoryName(target) ?? throw new UserFacingException($"{outputPath} is not a file path");
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.dfpart");
        try
        {
            ct.ThrowIfCancellationRequested();
            if (NativeFiles.HardLink(source, temp) == 0)
            {
                File.Move(temp, target, overwrite: true);
                return true;
            }
            // File.Copy lets the kernel copy (copy_file_range / reflink) without passing bytes through us.
            await Task.Run(() => File.Copy(source, temp, overwrite: false), ct).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            using (var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.FlushToDisk(handle);
            }
            File.Move(temp, target, overwrite: true);
            return false;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover temp file is harmless.
        }
    }

    /// <summary>Opens for serving: shared with writers and renames, async so sockets can sendfile from it.</summary>
    internal static SafeFileHandle OpenRead(string path) =>
        File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
}
