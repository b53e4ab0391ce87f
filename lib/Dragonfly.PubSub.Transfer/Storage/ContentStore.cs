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

    /// <summary>Removes the partial file of a download, if any.</summary>
    public void DeletePartial(ContentDigest digest) => File.Delete(PartialPath(digest));

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
    /// Copies complete content to <paramref name="outputPath"/> atomically: a temp file in the
    /// target folder, then a rename over the target. Creates folders as needed.
    /// </summary>
    public async Task PlaceAsync(ContentDigest digest, string outputPath, CancellationToken ct)
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
            // File.Copy lets the kernel copy (copy_file_range / reflink) without passing bytes through us.
            await Task.Run(() => File.Copy(source, temp, overwrite: false), ct).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            using (var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.FlushToDisk(handle);
            }
            File.Move(temp, target, overwrite: true);
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
