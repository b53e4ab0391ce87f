using System.Buffers;
using System.Security.Cryptography;
using System.Threading.Channels;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Transfer.Swarm;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// Downloads one artifact from its parents into the content store. One loop owns the swarm state
/// (parents, what is requested where) and reacts to events; fetches run beside it, each with its
/// own pooled piece buffer; a persist loop batches finished pieces into LiteDB; a hasher keeps the
/// whole-file digest in step. A piece's life: fetched and hashed as it arrives → verified →
/// written at its offset (now served to others) → persisted in the record's bitmap → counted in
/// <see cref="Progress"/> and reported to the scheduler.
/// <para>
/// A URL task (<c>manifest.url_task</c>) learns its piece digests while it runs
/// (<see cref="PieceDigestsLearned"/>): a piece is asked of a peer only once its digest is known.
/// Told <see cref="FetchFromSource"/>, the download is the task's source: the origin becomes a
/// parent of last resort whose pieces are hashed as they arrive, and those digests go to the
/// scheduler with the pieces (<see cref="ISwarmReporter.PiecesSourced"/>). The task id stays the
/// key of the record and the content store; the whole file's hash is checked against the content
/// digest when one is known, and comes back in <see cref="DownloadOutcome.Content"/>.
/// </para>
/// </summary>
public sealed class TaskDownloader
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan NeedParentsInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PersistDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>How often learned digests alone (no piece of theirs done) are written to the record.</summary>
    private static readonly TimeSpan ManifestSaveInterval = TimeSpan.FromSeconds(1);

    private const int PersistBatch = 32;

    /// <summary>
    /// Piece buffers one download may hold at once: with the default 4 MiB pieces this is the
    /// full <see cref="TransferOptions.PiecesInFlight"/> window of 8; the larger pieces of very
    /// large files get fewer (never below 2), so memory stays flat whatever the file size.
    /// </summary>
    public const long InFlightBudget = 32L * 1024 * 1024;

    private readonly Manifest _manifest;
    private readonly TaskRecord _record;
    private readonly AgentStore _store;
    private readonly ContentStore _content;
    private readonly LocalPieces _pieces;
    private readonly PieceFetcher _fetcher;
    private readonly ISwarmReporter _reporter;
    private readonly TransferOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly TokenBucket? _taskLimiter;
    private readonly Channel<LoopEvent> _events = Channel.CreateUnbounded<LoopEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<PersistOp> _persist = Channel.CreateUnbounded<PersistOp>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _progressLock = new();
    private readonly DigestKey _key;
    private readonly PieceLayout _layout;
    private readonly bool _urlTask;
    private readonly WholeFileProof _proof;
    private DownloadProgress _progress;
    private int _started;
    private long _firstRequestTicks;

    /// <summary>
    /// SHA-256 of each piece, null while unknown: shared by the fetches, the hasher and the persist
    /// loop. An entry is set once (first digest wins) and always before its piece is written.
    /// </summary>
    private readonly byte[]?[] _digests;

    /// <summary>Bumped whenever a digest is added, so the persist loop knows the record's manifest is behind.</summary>
    private int _digestVersion;

    // Set from any thread (callers of the public methods); guarded by _stateLock.
    private readonly Lock _stateLock = new();
    private ContentDigest? _knownContent;
    private SourceRequest? _sourceRequest;
    private string? _swarmError;

    // Set up by RunAsync; fetches use them while it runs.
    private SafeFileHandle? _file;
    private WholeFileHasher? _hasher;
    private int[] _claims = [];

    /// <summary>What the record's manifest said the stored file hashes to (a URL task that completed before).</summary>
    private ContentDigest? _recordContent;

    /// <summary>Which digests the record's manifest holds as last saved; owned by RunAsync, then by the persist loop.</summary>
    private bool[] _savedDigests = [];

    /// <summary>The source this download fetches from now; owned by the loop.</summary>
    private SourceRequest? _activeSource;

    /// <summary>The last source dropped after its retries ran out; owned by the loop.</summary>
    private SourceRequest? _droppedSource;

    public TaskDownloader(
        Manifest manifest, TaskRecord record, AgentStore store, ContentStore content, LocalPieces pieces,
        PieceFetcher fetcher, ISwarmReporter reporter, TransferOptions options, ILogger logger, TimeProvider time,
        long downloadLimit = 0, WholeFileProof proof = WholeFileProof.Sha256)
        : this(manifest, record, store, content, pieces, fetcher, reporter, options, logger, time, Random.Shared, downloadLimit, proof)
    {
    }

    /// <param name="downloadLimit">
    /// Bytes per second for this download alone (<c>dfget --limit</c>), from peers and the origin
    /// together, on top of <see cref="TransferOptions.DownloadLimit"/>; 0 = no limit of its own.
    /// </param>
    internal TaskDownloader(
        Manifest manifest, TaskRecord record, AgentStore store, ContentStore content, LocalPieces pieces,
        PieceFetcher fetcher, ISwarmReporter reporter, TransferOptions options, ILogger logger, TimeProvider time, Random random,
        long downloadLimit = 0, WholeFileProof proof = WholeFileProof.Sha256)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(record);
        ArgumentOutOfRangeException.ThrowIfNegative(downloadLimit);
        _manifest = manifest;
        _record = record;
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _content = content ?? throw new ArgumentNullException(nameof(content));
        _pieces = pieces ?? throw new ArgumentNullException(nameof(pieces));
        _fetcher = fetcher ?? throw new ArgumentNullException(nameof(fetcher));
        _reporter = reporter ?? throw new ArgumentNullException(nameof(reporter));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _random = random;
        _taskLimiter = downloadLimit > 0 ? new TokenBucket(downloadLimit, time) : null;
        Digest = ContentDigest.TryParse(manifest.Digest, out var digest)
            ? digest.Value
            : throw new ArgumentException($"manifest digest '{manifest.Digest}' is not a sha256: content id", nameof(manifest));
        if (record.Id.Length > 0 && record.Id != manifest.Digest)
        {
            throw new ArgumentException($"record {record.Id} is not the task of manifest {manifest.Digest}", nameof(record));
        }
        _key = DigestKey.From(Digest);
        _layout = manifest.Layout() is { IsSupported: true } layout ? layout : new PieceLayout(0, PieceLayout.DefaultPieceSize);
        _urlTask = manifest.UrlTask;
        // A URL task's content digest is never what its manifest binds: the task id is not a content id.
        _proof = _urlTask ? WholeFileProof.Sha256 : proof;
        _digests = new byte[]?[_layout.PieceCount];
        for (var i = 0; i < Math.Min(_digests.Length, manifest.PieceDigests.Count); i++)
        {
            if (manifest.PieceDigests[i].Length == SHA256.HashSizeInBytes)
            {
                _digests[i] = manifest.PieceDigests[i].ToByteArray();
            }
        }
        if (_urlTask && ContentDigest.TryParse(manifest.ContentDigest, out var wholeFile))
        {
            _knownContent = wholeFile;
        }
        _progress = InitialProgress(record, _layout);
    }

    /// <summary>The task id: the content id of a content task, the task id of a URL task.</summary>
    public ContentDigest Digest { get; }

    /// <summary>The manifest says this is a URL task: digests arrive while it runs.</summary>
    public bool IsUrlTask => _urlTask;

    /// <summary>The whole file's SHA-256 as far as known up front (manifest, <see cref="ContentDigestLearned"/>); null while unknown.</summary>
    public ContentDigest? KnownContent
    {
        get
        {
            if (!_urlTask)
            {
                return Digest;
            }
            lock (_stateLock)
            {
                return _knownContent;
            }
        }
    }

    /// <summary>What the record says is done, so a task shows its progress before it runs.</summary>
    private static DownloadProgress InitialProgress(TaskRecord record, PieceLayout layout)
    {
        if (record.PieceSize != layout.PieceSize || record.PieceCount != layout.PieceCount)
        {
            return new DownloadProgress(0, layout.PieceCount, 0, record.BytesFromPeers, record.BytesFromSource);
        }
        var done = PieceBitmap.FromBytes(record.Bitmap ?? [], layout.PieceCount);
        var bytes = done.SetIndexes().Sum(i => (long)layout.LengthOf(i));
        return new DownloadProgress(done.CountSet, layout.PieceCount, bytes, record.BytesFromPeers, record.BytesFromSource);
    }

    /// <summary>When this run's first piece request went out (UTC); null before it did.</summary>
    public DateTime? FirstPieceRequestedAt =>
        Volatile.Read(ref _firstRequestTicks) is var ticks and not 0 ? new DateTime(ticks, DateTimeKind.Utc) : null;

    /// <summary>Where the download stands; <see cref="DownloadProgress.CompletedPieces"/> counts pieces persisted in LiteDB.</summary>
    public DownloadProgress Progress
    {
        get
        {
            lock (_progressLock)
            {
                return _progress;
            }
        }
    }

    /// <summary>Raised (on a background thread) after each batch of pieces is persisted.</summary>
    public event Action<DownloadProgress>? ProgressChanged;

    /// <summary>Replaces the parents to fetch from. Thread-safe; may be called before <see cref="RunAsync"/>.</summary>
    public void UpdateParents(IReadOnlyList<ParentPeer> parents)
    {
        ArgumentNullException.ThrowIfNull(parents);
        _events.Writer.TryWrite(new ParentsChanged(parents.ToArray()));
    }

    /// <summary>A parent gained pieces. Thread-safe.</summary>
    public void PiecesAvailable(string peerId, IReadOnlyList<int> indexes)
    {
        ArgumentNullException.ThrowIfNull(peerId);
        ArgumentNullException.ThrowIfNull(indexes);
        _events.Writer.TryWrite(new PiecesGained(peerId, indexes.ToArray()));
    }

    /// <summary>
    /// The scheduler sent piece digests of a URL task (parallel lists). The first digest known for
    /// a piece stands; entries out of range or not 32 bytes long are ignored. Thread-safe; may be
    /// called before <see cref="RunAsync"/>.
    /// </summary>
    public void PieceDigestsLearned(IReadOnlyList<int> indexes, IReadOnlyList<ReadOnlyMemory<byte>> digests)
    {
        ArgumentNullException.ThrowIfNull(indexes);
        ArgumentNullException.ThrowIfNull(digests);
        if (indexes.Count != digests.Count)
        {
            throw new ArgumentException($"{indexes.Count} indexes but {digests.Count} digests", nameof(digests));
        }
        List<int>? learned = null;
        for (var k = 0; k < indexes.Count; k++)
        {
            var index = indexes[k];
            var digest = digests[k];
            if ((uint)index >= (uint)_digests.Length || digest.Length != SHA256.HashSizeInBytes)
            {
                continue;
            }
            var known = Interlocked.CompareExchange(ref _digests[index], digest.ToArray(), null);
            if (known is null)
            {
                (learned ??= []).Add(index);
            }
            else if (!known.AsSpan().SequenceEqual(digest.Span))
            {
                TransferLog.DigestConflict(_logger, Digest, index);
            }
        }
        if (learned is not null)
        {
            Interlocked.Increment(ref _digestVersion);
            _events.Writer.TryWrite(new DigestsLearned([.. learned]));
        }
    }

    /// <summary>
    /// This download becomes the source of its URL task: pieces no parent can send are read from
    /// <paramref name="source"/>. When the whole file is in, it must hash to
    /// <paramref name="expectedContent"/> (when given); the scheduler then hears
    /// <see cref="ISwarmReporter.SourceDone"/> or <see cref="ISwarmReporter.SourceFailed"/>.
    /// A later call replaces the source. Thread-safe; may be called before <see cref="RunAsync"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not a URL task.</exception>
    public void FetchFromSource(IPieceSource source, ContentDigest? expectedContent)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!_urlTask)
        {
            throw new InvalidOperationException($"{Digest} is a content task; only a URL task has a source");
        }
        var request = new SourceRequest(source, expectedContent);
        lock (_stateLock)
        {
            _sourceRequest = request;
        }
        _events.Writer.TryWrite(new SourceAssigned(request));
    }

    /// <summary>The whole file's SHA-256 became known (the source finished, or the user named it): checked at the end. Thread-safe.</summary>
    public void ContentDigestLearned(ContentDigest content)
    {
        lock (_stateLock)
        {
            _knownContent = content;
        }
    }

    /// <summary>
    /// The task failed for good (the scheduler's <c>TaskFailed</c>): <see cref="RunAsync"/> returns a
    /// failed outcome with <paramref name="error"/> and leaves nothing behind. Thread-safe; may be
    /// called before <see cref="RunAsync"/>.
    /// </summary>
    public void FailFromSwarm(string error)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(error);
        lock (_stateLock)
        {
            _swarmError ??= error;
        }
        _events.Writer.TryWrite(new SwarmFailed(error));
    }

    /// <summary>
    /// Downloads until every piece is verified, the content checked, and the file renamed into
    /// the content store (record saved as <see cref="TaskState.Succeeded"/>, served as complete).
    /// Resumes from the record's bitmap. Expected failures come back as a failed outcome (record
    /// saved as <see cref="TaskState.Failed"/>); cancellation throws
    /// <see cref="OperationCanceledException"/> and leaves a state the next run resumes from.
    /// May be called once.
    /// </summary>
    public async Task<DownloadOutcome> RunAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("a TaskDownloader runs once; create a new one to resume");
        }
        var startedAt = _time.GetTimestamp();
        if (CheckManifest() is { } manifestError)
        {
            return Fail($"the manifest of {Digest} is invalid: {manifestError}");
        }
        PrepareRecord();
        if (SwarmError is { } swarmError)
        {
            Discard(null);
            return Fail(swarmError);
        }

        if (_content.HasContent(Digest))
        {
            if (await CompleteStoredAsync(startedAt, ct).ConfigureAwait(false) is { } stored)
            {
                return stored;
            }
        }

        var done = PieceBitmap.FromBytes(_record.Bitmap, _layout.PieceCount);
        var partialPath = _content.PartialPath(Digest);
        try
        {
            _file = OpenPartial(partialPath, ref done);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"cannot create {partialPath}: {e.Message}");
        }

        try
        {
            return await DownloadAsync(done, partialPath, startedAt, ct).ConfigureAwait(false);
        }
        finally
        {
            _file?.Dispose();
        }
    }

    private string? SwarmError
    {
        get
        {
            lock (_stateLock)
            {
                return _swarmError;
            }
        }
    }

    private SourceRequest? CurrentSourceRequest
    {
        get
        {
            lock (_stateLock)
            {
                return _sourceRequest;
            }
        }
    }

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

    private async Task<DownloadOutcome> DownloadAsync(PieceBitmap done, string partialPath, long startedAt, CancellationToken ct)
    {
        var file = _file!;
        var count = _layout.PieceCount;
        _claims = new int[count];
        long doneBytes = 0;
        foreach (var i in done.SetIndexes())
        {
            _claims[i] = 1;
            doneBytes += _layout.LengthOf(i);
        }
        _record.State = TaskState.Running;
        _record.Error = null;
        _record.Bitmap = done.ToBytes();
        try
        {
            _store.Save(_record);
        }
        catch (Exception e) when (e is LiteDB.LiteException or IOException)
        {
            return Fail($"cannot save the task in the agent database: {e.Message}");
        }
        _pieces.AddPartial(Digest, _layout, partialPath, done);
        SetProgress(new DownloadProgress(done.CountSet, count, doneBytes, _record.BytesFromPeers, _record.BytesFromSource));
        TransferLog.DownloadStarted(_logger, Digest, done.CountSet, count);

        var window = Math.Max(1, Math.Min(_options.PiecesInFlight, Math.Max(2, (int)(InFlightBudget / _layout.PieceSize))));
        var unknown = _digests.Select(d => d is null).ToArray();
        var picker = new PiecePicker(count, window, _random, done, unknown: unknown);
        using var hasher = new WholeFileHasher(_layout, file, _digests, _fetcher.RentBuffer, _fetcher.ReturnBuffer, done,
            _proof, _proof == WholeFileProof.ManifestBinding ? Digest.ToBytes() : null);
        _hasher = hasher;
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var persisted = new PersistState(done, doneBytes, _savedDigests, Volatile.Read(ref _digestVersion))
        {
            BaseFromPeers = _record.BytesFromPeers,
            BaseFromSource = _record.BytesFromSource,
            ManifestSavedAt = _time.GetTimestamp(),
        };
        var persistLoop = Task.Run(() => PersistLoopAsync(persisted));
        var hashLoop = Task.Run(async () =>
        {
            try
            {
                var digest = await hasher.RunAsync(index => _events.Writer.TryWrite(new Damaged(index)), run.Token).ConfigureAwait(false);
                if (digest is not null)
                {
                    _events.Writer.TryWrite(new Hashed(digest));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _events.Writer.TryWrite(new Fatal($"cannot read back {partialPath}: {e.Message}"));
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e)
            {
                _events.Writer.TryWrite(new Fatal($"hashing the download failed unexpectedly: {e.GetType().Name}: {e.Message}"));
            }
        });
        using var ticker = _time.CreateTimer(static state => ((Channel<LoopEvent>)state!).Writer.TryWrite(Tick.Instance),
            _events, TickInterval, TickInterval);

        var attempts = new Dictionary<int, List<Attempt>>();
        var running = new HashSet<Attempt>();
        var end = new LoopEnd(null, "the download was stopped", Discard: false);
        try
        {
            end = await LoopAsync(picker, attempts, running, startedAt, run.Token).ConfigureAwait(false);
        }
        finally
        {
            // Whatever ended the loop, nothing may still write to the file once RunAsync returns.
            await run.CancelAsync().ConfigureAwait(false);
            await DrainAttemptsAsync(picker, running).ConfigureAwait(false);
            hasher.Stop();
            await hashLoop.ConfigureAwait(false);
            _persist.Writer.TryComplete();
            var persistError = await persistLoop.ConfigureAwait(false);
            _hasher = null;
            // Parent updates that arrive from now on have nobody to read them.
            _events.Writer.TryComplete();
            if (persistError is not null && end.Error is null)
            {
                end = new LoopEnd(null, persistError, Discard: false);
            }
        }

        // A source named while the last pieces were hashed never reached the loop: it is the source all the same.
        var source = _activeSource;
        if (CurrentSourceRequest is { } latest && !ReferenceEquals(latest, source) && !ReferenceEquals(latest, _droppedSource))
        {
            source = latest;
            if (end.Error is null && end.Digest is not null)
            {
                var indexes = Enumerable.Range(0, _layout.PieceCount).ToArray();
                _reporter.PiecesSourced(Digest, indexes, indexes.Select(i => Volatile.Read(ref _digests[i])!).ToArray());
            }
        }
        if (end.Error is not null || end.Digest is null)
        {
            var error = end.Error ?? "the download stopped before every piece was hashed";
            if (end.Discard)
            {
                Discard(partialPath);
            }
            if (source is not null && !end.SchedulerKnows)
            {
                // This agent cannot finish the task: the scheduler should name another source.
                TransferLog.SourceGaveUp(_logger, Digest, source.Source.Description, false, error);
                _reporter.SourceFailed(Digest, error, false);
            }
            return Fail(error);
        }
        var actual = ContentDigest.FromHash(end.Digest);
        if (!_urlTask && actual != Digest)
        {
            // Every piece matched its digest, so the manifest itself is inconsistent: start over if retried.
            Discard(partialPath);
            return Fail($"the downloaded file hashes to {actual}, not to its content id {Digest}; the manifest does not describe this content");
        }
        if (_urlTask && CheckUrlContent(actual, source) is { } mismatch)
        {
            Discard(partialPath);
            return Fail(mismatch);
        }
        DownloadOutcome outcome;
        try
        {
            RandomAccess.FlushToDisk(file);
            file.Dispose();
            var target = _content.ContentPath(Digest);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(partialPath, target, overwrite: true);
            outcome = Complete(target, startedAt, actual);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            outcome = Fail($"cannot move the finished download into the content store: {e.Message}");
        }
        if (source is not null)
        {
            ReportSourceEnd(source, outcome, actual);
        }
        return outcome;
    }

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
            _reporter.SourceFailed(Digest, error, true);
            return error;
        }
        if (KnownContent is { } known && known != actual)
        {
            var error = $"the downloaded file hashes to {actual}, not to {known}, the content digest of task {Digest}";
            if (source is not null)
            {
                TransferLog.SourceGaveUp(_logger, Digest, source.Source.Description, true, error);
                _reporter.SourceFailed(Digest, error, true);
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
            _reporter.SourceFailed(Digest, outcome.Error ?? "the source could not keep the file", false);
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

    /// <summary>The owner loop: reacts to events until the whole file is in and hashed.</summary>
    private async Task<LoopEnd> LoopAsync(
        PiecePicker picker, Dictionary<int, List<Attempt>> attempts, HashSet<Attempt> running, long startedAt, CancellationToken ct)
    {
        var reader = _events.Reader;
        TimeSpan? lastNeedParents = null;
        var parentSets = 0;
        while (true)
        {
            if (!await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                return new LoopEnd(null, "the download was stopped", Discard: false);
            }
            var now = _time.GetElapsedTime(startedAt);
            while (reader.TryRead(out var e))
            {
                switch (e)
                {
                    case ParentsChanged p:
                        picker.SetParents(p.Parents.Where(x => x.PeerId != _store.PeerId));
                        parentSets++;
                        break;
                    case PiecesGained g:
                        picker.AddAvailable(g.PeerId, g.Indexes);
                        break;
                    case DigestsLearned l:
                        foreach (var index in l.Indexes)
                        {
                            picker.DigestKnown(index);
                        }
                        _persist.Writer.TryWrite(new PersistOp(PersistKind.DigestsChanged));
                        break;
                    case SourceAssigned s:
                        TransferLog.SourceStarted(_logger, Digest, s.Request.Source.Description);
                        _activeSource = s.Request;
                        picker.SetSource(true);
                        // The scheduler hears the digests of what this source already holds.
                        _persist.Writer.TryWrite(new PersistOp(PersistKind.ReportHeld));
                        break;
                    case SwarmFailed f:
                        return new LoopEnd(null, f.Error, Discard: true, SchedulerKnows: true);
                    case AttemptDone d:
                        if (OnAttemptDone(picker, attempts, running, d, now) is { } end)
                        {
                            return end;
                        }
                        break;
                    case Damaged d:
                        TransferLog.DamagedOnDisk(_logger, Digest, d.Index);
                        picker.MarkNotDone(d.Index);
                        _pieces.UnmarkPiece(Digest, d.Index);
                        Volatile.Write(ref _claims[d.Index], 0);
                        _persist.Writer.TryWrite(new PersistOp(PersistKind.NotDone, d.Index));
                        break;
                    case Hashed h:
                        return new LoopEnd(h.Digest, null, Discard: false);
                    case Fatal f:
                        return new LoopEnd(null, f.Error, Discard: false);
                }
            }

            if (picker.AllDone)
            {
                // Every piece is written: cancel endgame duplicates; the hasher finishes the rest.
                foreach (var attempt in running)
                {
                    attempt.Cancel();
                }
                continue;
            }
            while (picker.TryPick(now, out var index, out var parent))
            {
                if (Volatile.Read(ref _firstRequestTicks) == 0)
                {
                    // Milliseconds, as the record keeps it and the task JSON shows it.
                    var at = _time.GetUtcNow().UtcDateTime;
                    at = new DateTime(at.Ticks - (at.Ticks % TimeSpan.TicksPerMillisecond), DateTimeKind.Utc);
                    Volatile.Write(ref _firstRequestTicks, at.Ticks);
                    _record.FirstPieceRequestedAt = at;
                }
                var attempt = new Attempt(index, parent, CancellationTokenSource.CreateLinkedTokenSource(ct), parent.Source ? _activeSource : null);
                running.Add(attempt);
                if (!attempts.TryGetValue(index, out var list))
                {
                    attempts[index] = list = [];
                }
                list.Add(attempt);
                AgentMetrics.PiecesInFlight.Inc();
                attempt.Task = attempt.Source is not null
                    ? Task.Run(() => FetchFromSourceAsync(attempt))
                    : Task.Run(() => FetchAsync(attempt));
            }
            if (picker.InFlight == 0)
            {
                // Starved: nothing any parent holds can be fetched now. Give a fresh registration a
                // moment to get its first parent set before asking.
                var due = lastNeedParents is { } last
                    ? now - last >= NeedParentsInterval
                    : parentSets > 0 || now >= NeedParentsInterval;
                if (due)
                {
                    lastNeedParents = now;
                    TransferLog.NeedParents(_logger, Digest, picker.ActiveParents);
                    _reporter.NeedParents(Digest);
                }
            }
        }
    }

    private LoopEnd? OnAttemptDone(PiecePicker picker, Dictionary<int, List<Attempt>> attempts, HashSet<Attempt> running, AttemptDone done, TimeSpan now)
    {
        var attempt = done.Attempt;
        running.Remove(attempt);
        attempt.Dispose();
        AgentMetrics.PiecesInFlight.Dec();
        if (attempts.TryGetValue(attempt.Index, out var list))
        {
            list.Remove(attempt);
            if (list.Count == 0)
            {
                attempts.Remove(attempt.Index);
            }
        }
        var status = done.Outcome switch
        {
            AttemptOutcome.Written or AttemptOutcome.Duplicate => FetchStatus.Ok,
            AttemptOutcome.Corrupt => FetchStatus.Corrupt,
            AttemptOutcome.Missing => FetchStatus.Missing,
            AttemptOutcome.Busy => FetchStatus.Busy,
            AttemptOutcome.Full => FetchStatus.Full,
            AttemptOutcome.Unreachable => FetchStatus.Unreachable,
            _ => FetchStatus.Canceled,
        };
        picker.Finished(attempt.Index, attempt.Parent.PeerId, status, now);
        switch (done.Outcome)
        {
            case AttemptOutcome.Written:
                picker.MarkDone(attempt.Index);
                if (attempts.TryGetValue(attempt.Index, out var others))
                {
                    foreach (var other in others)
                    {
                        other.Cancel(); // first verified copy wins
                    }
                }
                break;
            case AttemptOutcome.Corrupt:
                AgentMetrics.PieceVerifyFailures.Inc();
                Report(attempt, FailureKind.Corrupt);
                break;
            case AttemptOutcome.Missing:
                AgentMetrics.PieceFetchFailures.Inc();
                Report(attempt, FailureKind.Missing);
                break;
            case AttemptOutcome.Unreachable:
                AgentMetrics.PieceFetchFailures.Inc();
                Report(attempt, FailureKind.Unreachable);
                break;
            case AttemptOutcome.SourceUnavailable when ReferenceEquals(attempt.Source, _activeSource):
                // Its retries are spent: peers may still have it all; the scheduler may name another source.
                var reason = done.Error ?? "the origin is unavailable";
                TransferLog.SourceGaveUp(_logger, Digest, attempt.Source!.Source.Description, false, reason);
                _reporter.SourceFailed(Digest, reason, false);
                _droppedSource = _activeSource;
                _activeSource = null;
                picker.SetSource(false);
                break;
            case AttemptOutcome.SourceRefused or AttemptOutcome.SourceChanged when ReferenceEquals(attempt.Source, _activeSource):
                var refusal = done.Error ?? "the origin refused the request";
                TransferLog.SourceGaveUp(_logger, Digest, attempt.Source!.Source.Description, true, refusal);
                _reporter.SourceFailed(Digest, refusal, true);
                return new LoopEnd(null, refusal, Discard: true, SchedulerKnows: true);
            case AttemptOutcome.Fatal:
                return new LoopEnd(null, done.Error ?? "writing a piece failed", Discard: false);
        }
        return null;
    }

    private void Report(Attempt attempt, FailureKind kind)
    {
        if (kind == FailureKind.Corrupt)
        {
            TransferLog.PieceCorrupt(_logger, Digest, attempt.Index, attempt.Parent.PeerId);
        }
        else
        {
            TransferLog.PieceFailed(_logger, Digest, attempt.Index, attempt.Parent.PeerId, kind);
        }
        _reporter.PieceFailed(Digest, attempt.Index, attempt.Parent.PeerId, kind);
    }

    /// <summary>
    /// Runs one attempt on a pooled piece buffer and reports how it ended to the loop. The buffer goes
    /// back to the pool unless the attempt handed it on (<c>Keep</c>: written and queued for hashing);
    /// a write failure fails the task, and so does a bug, rather than leave the loop waiting forever.
    /// </summary>
    private async Task RunAttemptAsync(Attempt attempt, string from,
        Func<byte[], Task<(AttemptOutcome Outcome, string? Error, bool Keep)>> body)
    {
        var buffer = _fetcher.RentBuffer(_layout.PieceSize);
        var keep = false;
        AttemptOutcome outcome;
        string? error;
        try
        {
            (outcome, error, keep) = await body(buffer).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            outcome = AttemptOutcome.Fatal;
            error = $"cannot write piece {attempt.Index} to the partial file: {e.Message}";
        }
        catch (Exception e)
        {
            outcome = AttemptOutcome.Fatal;
            error = $"fetching piece {attempt.Index} from {from} failed unexpectedly: {e.GetType().Name}: {e.Message}";
        }
        finally
        {
            if (!keep)
            {
                _fetcher.ReturnBuffer(buffer);
            }
        }
        _events.Writer.TryWrite(new AttemptDone(attempt, outcome, error));
    }

    /// <summary>One request to a peer: fetch into a pooled buffer, verify, and (first copy only) write and hand on.</summary>
    private Task FetchAsync(Attempt attempt) => RunAttemptAsync(attempt, attempt.Parent.PeerId, async buffer =>
    {
        var index = attempt.Index;
        var length = _layout.LengthOf(index);
        if (Volatile.Read(ref _digests[index]) is not { } expected)
        {
            // Nothing could verify it yet: like a busy parent, ask again once the digest is known.
            return (AttemptOutcome.Busy, null, false);
        }
        var result = await _fetcher.FetchAsync(attempt.Parent.Host, attempt.Parent.Port, _key, _layout.OffsetOf(index),
            buffer.AsMemory(0, length), expected, attempt.Token, _taskLimiter, attempt.Parent.PeerId).ConfigureAwait(false);
        var outcome = result.Status switch
        {
            FetchStatus.Ok => AttemptOutcome.Duplicate,
            FetchStatus.Corrupt => AttemptOutcome.Corrupt,
            FetchStatus.Missing => AttemptOutcome.Missing,
            FetchStatus.Busy => AttemptOutcome.Busy,
            FetchStatus.Full => AttemptOutcome.Full,
            FetchStatus.Unreachable => AttemptOutcome.Unreachable,
            _ => AttemptOutcome.Canceled,
        };
        var keep = false;
        if (result.Status == FetchStatus.Ok)
        {
            AgentMetrics.DownloadBytesFromPeers.Inc(length);
            if (TryWrite(index, buffer, new PersistOp(PersistKind.Done, index, FromPeers: length), out keep))
            {
                outcome = AttemptOutcome.Written;
            }
        }
        return (outcome, null, keep);
    });

    /// <summary>
    /// One ranged read from the origin: hash the piece, check it against a digest the swarm already
    /// knows, record the digest, then write and hand on like a piece from a peer.
    /// </summary>
    private Task FetchFromSourceAsync(Attempt attempt) => RunAttemptAsync(attempt, "the source", async buffer =>
    {
        var index = attempt.Index;
        var length = _layout.LengthOf(index);
        var (outcome, error) = await ReadFromSourceAsync(attempt.Source!.Source, _layout.OffsetOf(index),
            buffer.AsMemory(0, length), attempt.Token).ConfigureAwait(false);
        if (outcome != AttemptOutcome.Duplicate)
        {
            return (outcome, error, false);
        }
        var digest = SHA256.HashData(buffer.AsSpan(0, length));
        var known = Interlocked.CompareExchange(ref _digests[index], digest, null);
        if (known is not null && !known.AsSpan().SequenceEqual(digest))
        {
            return (AttemptOutcome.SourceChanged, $"the origin's content changed: piece {index} no longer matches", false);
        }
        if (known is null)
        {
            Interlocked.Increment(ref _digestVersion);
        }
        AgentMetrics.DownloadBytesFromSource.Inc(length);
        var keep = false;
        if (TryWrite(index, buffer, new PersistOp(PersistKind.Done, index, FromSource: length), out keep))
        {
            outcome = AttemptOutcome.Written;
        }
        return (outcome, null, keep);
    });

    /// <summary>Reads one piece from the source; <see cref="AttemptOutcome.Duplicate"/> means the bytes are in (not yet written).</summary>
    private async Task<(AttemptOutcome, string?)> ReadFromSourceAsync(IPieceSource source, long offset, Memory<byte> destination, CancellationToken ct)
    {
        try
        {
            // Paid before the read, so a limit spaces the origin requests out instead of letting them burst.
            await _fetcher.Limiter.TakeAsync(destination.Length, ct).ConfigureAwait(false);
            if (_taskLimiter is not null)
            {
                await _taskLimiter.TakeAsync(destination.Length, ct).ConfigureAwait(false);
            }
            await source.ReadAsync(offset, destination, ct).ConfigureAwait(false);
            return (AttemptOutcome.Duplicate, null);
        }
        catch (PieceSourceException e)
        {
            return (e.Permanent ? AttemptOutcome.SourceRefused : AttemptOutcome.SourceUnavailable, e.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return (AttemptOutcome.Canceled, null);
        }
        catch (Exception e)
        {
            // Not the source's contract: treat it as this source giving up, so the swarm can carry on.
            return (AttemptOutcome.SourceUnavailable, $"reading {source.Description} failed: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// Writes a verified piece unless another copy got there first (a late duplicate never touches a
    /// finished piece), then serves, hashes and persists it. Returns whether this copy was written;
    /// <paramref name="keep"/> says the hasher took the buffer.
    /// </summary>
    private bool TryWrite(int index, byte[] buffer, PersistOp op, out bool keep)
    {
        keep = false;
        if (Interlocked.CompareExchange(ref _claims[index], 1, 0) != 0)
        {
            return false;
        }
        try
        {
            RandomAccess.Write(_file!, buffer.AsSpan(0, _layout.LengthOf(index)), _layout.OffsetOf(index));
        }
        catch
        {
            Volatile.Write(ref _claims[index], 0);
            throw;
        }
        _pieces.MarkPiece(Digest, index);
        keep = _hasher?.Written(index, buffer) ?? false;
        _persist.Writer.TryWrite(op);
        return true;
    }

    private async Task DrainAttemptsAsync(PiecePicker picker, HashSet<Attempt> running)
    {
        foreach (var attempt in running)
        {
            attempt.Cancel();
        }
        foreach (var attempt in running.ToList())
        {
            if (attempt.Task is { } task)
            {
                await task.ConfigureAwait(false);
            }
            AgentMetrics.PiecesInFlight.Dec();
            attempt.Dispose();
        }
        running.Clear();
        // Their results are still queued: written pieces are already in the persist queue.
        while (_events.Reader.TryRead(out var e))
        {
            if (e is AttemptDone d && d.Outcome == AttemptOutcome.Written)
            {
                picker.MarkDone(d.Attempt.Index);
            }
        }
    }

    /// <summary>Batches finished pieces into the record (every ~50 ms, sooner when 32 are pending) and then makes them count.</summary>
    private async Task<string?> PersistLoopAsync(PersistState state)
    {
        var reader = _persist.Reader;
        var batch = new List<PersistOp>();
        var finished = new List<int>();
        var sourced = new List<int>();
        Task<bool>? pending = null;
        string? error = null;
        while (true)
        {
            var more = pending is not null ? await pending.ConfigureAwait(false) : await reader.WaitToReadAsync().ConfigureAwait(false);
            pending = null;
            if (!more)
            {
                break;
            }
            var deadline = _time.GetTimestamp();
            while (true)
            {
                while (batch.Count < PersistBatch * 8 && reader.TryRead(out var op))
                {
                    batch.Add(op);
                }
                var wait = PersistDelay - _time.GetElapsedTime(deadline);
                if (batch.Count >= PersistBatch || wait <= TimeSpan.Zero)
                {
                    break;
                }
                pending = reader.WaitToReadAsync().AsTask();
                var delay = Task.Delay(wait, _time);
                if (await Task.WhenAny(pending, delay).ConfigureAwait(false) == delay)
                {
                    break;
                }
                var open = await pending.ConfigureAwait(false);
                pending = null;
                if (!open)
                {
                    break;
                }
            }
            if (batch.Count == 0)
            {
                continue;
            }
            error ??= PersistSafely(state, batch, finished, sourced, final: false);
            batch.Clear();
            finished.Clear();
            sourced.Clear();
        }
        // Digests learned since the last save (no piece of theirs done yet) are kept too.
        if (error is null && _urlTask && Volatile.Read(ref _digestVersion) != state.SavedVersion)
        {
            error = PersistSafely(state, batch, finished, sourced, final: true);
        }
        return error;
    }

    private string? PersistSafely(PersistState state, List<PersistOp> batch, List<int> finished, List<int> sourced, bool final)
    {
        try
        {
            return Persist(state, batch, finished, sourced, final);
        }
        catch (Exception e)
        {
            var error = $"recording progress failed unexpectedly: {e.GetType().Name}: {e.Message}";
            _events.Writer.TryWrite(new Fatal(error));
            return error;
        }
    }

    private string? Persist(PersistState state, List<PersistOp> batch, List<int> finished, List<int> sourced, bool final)
    {
        List<int>? held = null;
        var digestsBehind = false;
        foreach (var op in batch)
        {
            switch (op.Kind)
            {
                case PersistKind.Done when !state.Done[op.Index]:
                    state.Done[op.Index] = true;
                    state.Count++;
                    state.Bytes += _layout.LengthOf(op.Index);
                    state.FromPeers += op.FromPeers;
                    state.FromSource += op.FromSource;
                    (op.FromSource > 0 ? sourced : finished).Add(op.Index);
                    // A piece recorded as done must have its digest in the record, or a resume cannot verify it.
                    digestsBehind |= _urlTask && !state.SavedDigests[op.Index];
                    break;
                case PersistKind.NotDone when state.Done[op.Index]:
                    state.Done[op.Index] = false;
                    state.Count--;
                    state.Bytes -= _layout.LengthOf(op.Index);
                    finished.Remove(op.Index);
                    sourced.Remove(op.Index);
                    break;
                case PersistKind.ReportHeld:
                    // What was done when this download became the source; later pieces report themselves.
                    held = [];
                    for (var i = 0; i < state.Done.Length; i++)
                    {
                        if (state.Done[i])
                        {
                            held.Add(i);
                        }
                    }
                    break;
            }
        }
        var bitmap = new PieceBitmap(_layout.PieceCount);
        for (var i = 0; i < state.Done.Length; i++)
        {
            if (state.Done[i])
            {
                bitmap.Set(i);
            }
        }
        _record.Bitmap = bitmap.ToBytes();
        _record.BytesFromPeers = state.BaseFromPeers + state.FromPeers;
        _record.BytesFromSource = state.BaseFromSource + state.FromSource;
        _record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
        if (_urlTask)
        {
            var version = Volatile.Read(ref _digestVersion);
            if (version != state.SavedVersion
                && (digestsBehind || final || _time.GetElapsedTime(state.ManifestSavedAt) >= ManifestSaveInterval))
            {
                _record.ManifestBytes = BuildManifestBytes(state.SavedDigests, null);
                state.SavedVersion = version;
                state.ManifestSavedAt = _time.GetTimestamp();
            }
        }
        try
        {
            _store.Save(_record);
        }
        catch (Exception e) when (e is LiteDB.LiteException or IOException or ObjectDisposedException)
        {
            _events.Writer.TryWrite(new Fatal($"cannot save progress in the agent database: {e.Message}"));
            return e.Message;
        }
        var progress = new DownloadProgress(state.Count, _layout.PieceCount, state.Bytes, _record.BytesFromPeers, _record.BytesFromSource);
        SetProgress(progress);
        if (finished.Count > 0)
        {
            _reporter.PiecesFinished(Digest, finished.ToArray());
        }
        if (held is not null)
        {
            // Everything held, not only what came from the origin: a scheduler that lost the task learns it again.
            sourced.AddRange(held.Where(i => state.Done[i] && !sourced.Contains(i) && Volatile.Read(ref _digests[i]) is not null));
        }
        if (sourced.Count > 0)
        {
            _reporter.PiecesSourced(Digest, sourced.ToArray(), sourced.Select(i => Volatile.Read(ref _digests[i])!).ToArray());
        }
        RaiseProgress(progress);
        return null;
    }

    private DownloadOutcome Complete(string path, long startedAt, ContentDigest content)
    {
        _pieces.MoveToComplete(Digest, path);
        if (!_pieces.Contains(Digest))
        {
            _pieces.AddComplete(Digest, _layout, path);
        }
        _record.State = TaskState.Succeeded;
        _record.Error = null;
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

    private DownloadOutcome Fail(string error)
    {
        TransferLog.DownloadFailed(_logger, Digest, error);
        _record.State = TaskState.Failed;
        _record.Error = error;
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
        return DownloadOutcome.Failure(error);
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

    private sealed class PersistState(PieceBitmap done, long bytes, bool[] savedDigests, int savedVersion)
    {
        public bool[] Done { get; } = Enumerable.Range(0, done.PieceCount).Select(i => done[i]).ToArray();
        public int Count { get; set; } = done.CountSet;
        public long Bytes { get; set; } = bytes;
        public long BaseFromPeers { get; init; }
        public long FromPeers { get; set; }
        public long BaseFromSource { get; init; }
        public long FromSource { get; set; }

        /// <summary>Which digests the record's manifest holds (URL tasks).</summary>
        public bool[] SavedDigests { get; } = savedDigests;

        /// <summary>The digest version the record's manifest was built at.</summary>
        public int SavedVersion { get; set; } = savedVersion;

        public long ManifestSavedAt { get; set; }
    }

    /// <summary>A <see cref="FetchFromSource"/> call: each one is a source of its own, so a replaced one's late failures are ignored.</summary>
    private sealed record SourceRequest(IPieceSource Source, ContentDigest? Expected);

    private sealed class Attempt(int index, PiecePicker.ParentRef parent, CancellationTokenSource cts, SourceRequest? source) : IDisposable
    {
        private int _disposed;

        public int Index { get; } = index;
        public PiecePicker.ParentRef Parent { get; } = parent;
        public CancellationToken Token { get; } = cts.Token;
        public Task? Task { get; set; }

        /// <summary>The origin this attempt reads from; null for a peer.</summary>
        public SourceRequest? Source { get; } = source;

        public void Cancel()
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                try
                {
                    cts.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                cts.Dispose();
            }
        }
    }

    private enum AttemptOutcome
    {
        Written,
        Duplicate,
        Corrupt,
        Missing,
        Busy,
        Full,
        Unreachable,
        Canceled,
        Fatal,

        /// <summary>The source gave up after its retries: drop it, carry on with peers.</summary>
        SourceUnavailable,

        /// <summary>The origin answered for good (not found, refused, changed size): the task fails.</summary>
        SourceRefused,

        /// <summary>The origin sent a piece that differs from the digest the swarm already has.</summary>
        SourceChanged,
    }

    private enum PersistKind
    {
        Done,
        NotDone,

        /// <summary>Digests were learned: the record's manifest is behind.</summary>
        DigestsChanged,

        /// <summary>This download became the source: report every piece held, with its digest.</summary>
        ReportHeld,
    }

    private readonly record struct PersistOp(PersistKind Kind, int Index = -1, long FromPeers = 0, long FromSource = 0);

    /// <param name="SchedulerKnows">The failure came from the scheduler or was already reported to it.</param>
    private readonly record struct LoopEnd(byte[]? Digest, string? Error, bool Discard, bool SchedulerKnows = false);

    private abstract record LoopEvent;

    private sealed record ParentsChanged(ParentPeer[] Parents) : LoopEvent;

    private sealed record PiecesGained(string PeerId, int[] Indexes) : LoopEvent;

    private sealed record DigestsLearned(int[] Indexes) : LoopEvent;

    private sealed record SourceAssigned(SourceRequest Request) : LoopEvent;

    private sealed record SwarmFailed(string Error) : LoopEvent;

    private sealed record AttemptDone(Attempt Attempt, AttemptOutcome Outcome, string? Error) : LoopEvent;

    private sealed record Damaged(int Index) : LoopEvent;

    private sealed record Hashed(byte[] Digest) : LoopEvent;

    private sealed record Fatal(string Error) : LoopEvent;

    private sealed record Tick : LoopEvent
    {
        public static Tick Instance { get; } = new();
    }
}
