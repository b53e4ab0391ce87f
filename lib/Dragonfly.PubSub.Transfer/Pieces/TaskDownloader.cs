using System.Buffers;
using System.Security.Cryptography;
using System.Threading.Channels;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Transfer.Swarm;
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
/// <para>
/// The parts, one file each: this file is the composition root (the public surface, and
/// <c>RunAsync</c>/<c>DownloadAsync</c> wiring the parts together; it is a little over 500 lines
/// because the thread-safe entry points and their documentation live with the state they guard);
/// TaskDownloader.PieceLoop.cs (the loop), .Fetching.cs (peer and source attempts),
/// .Persister.cs (batched writes to LiteDB), .Resume.cs (record, stored content, partial file),
/// .Ending.cs (final checks and outcome); the hasher is <see cref="WholeFileHasher"/>.
/// </para>
/// </summary>
public sealed partial class TaskDownloader
{
    internal static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan NeedParentsInterval = TimeSpan.FromSeconds(2);

    /// <summary>How often learned digests alone (no piece of theirs done) are written to the record.</summary>
    private static readonly TimeSpan ManifestSaveInterval = TimeSpan.FromSeconds(1);

    /// <summary>Most operations one save of the record takes (a resume or a burst of finished pieces).</summary>
    private const int PersistBatch = 256;

    /// <summary>
    /// Piece buffers one download may hold at once: with 4 MiB pieces a window of 8, the
    /// default <see cref="TransferOptions.PiecesInFlight"/>; the larger pieces of very
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

    /// <summary>The manifest's chaining values when <see cref="WholeFileProof.PieceChain"/> was asked for and they are usable.</summary>
    private readonly byte[][]? _chain;

    /// <summary>The task id as bytes: what a chained check of the last piece must finish into.</summary>
    private readonly byte[] _contentIdBytes;

    /// <summary>
    /// The <see cref="WholeFileProof"/> this run uses (-1 until RunAsync decides, before any fetch): pieces are
    /// checked against <see cref="_chain"/> while it is <see cref="WholeFileProof.PieceChain"/>; a chain dropped
    /// mid-run turns it to <see cref="WholeFileProof.Sha256"/>, and the file is then hashed at the end.
    /// </summary>
    private int _proofUsed = -1;

    private bool CheckingByChain => Volatile.Read(ref _proofUsed) == (int)WholeFileProof.PieceChain;
    private DownloadProgress _progress;
    private int _started;

    /// <summary>1 once a write failed because the disk was full (see TaskDownloader.Fetching.cs).</summary>
    private int _diskFull;

    /// <summary>The folder of the partial file, whose filesystem must have room for each piece.</summary>
    private string _partialDirectory = "";
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
    private (string Error, TaskErrorKind Kind)? _swarmError;

    // Set up by RunAsync; fetches use them while it runs.
    private SafeFileHandle? _file;
    private WholeFileHasher? _hasher;
    private int[] _claims = [];

    /// <summary>What the record's manifest said the stored file hashes to (a URL task that completed before).</summary>
    private ContentDigest? _recordContent;

    /// <summary>Which digests the record's manifest holds as last saved; owned by RunAsync, then by the persist loop.</summary>
    private bool[] _savedDigests = [];

    /// <summary>The whole file was taken on the source's word (<see cref="BoundDigest"/>), not hashed.</summary>
    private bool _boundBySource;

    /// <summary>
    /// A URL task's manifest named the content digest before this run (a registrant's --digest, which
    /// a signed announcement carries, or what an earlier sourcing stored): the file must hash to it.
    /// </summary>
    private readonly bool _contentNamedUpFront;

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
        _contentIdBytes = Digest.ToBytes();
        _layout = manifest.Layout() is { IsSupported: true } layout ? layout : new PieceLayout(0, PieceLayout.DefaultPieceSize);
        _urlTask = manifest.UrlTask;
        _proof = proof;
        _chain = proof == WholeFileProof.PieceChain ? ManifestChain.From(manifest, _layout) : null;
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
            _contentNamedUpFront = true;
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

    /// <summary>
    /// How this run proves the whole file, once it has started: the proof asked for, or
    /// <see cref="WholeFileProof.Sha256"/> where <see cref="WholeFileProof.PieceChain"/> could not be used.
    /// Null before the run decided.
    /// </summary>
    public WholeFileProof? ProofUsed => Volatile.Read(ref _proofUsed) is var p and >= 0 ? (WholeFileProof)p : null;

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
            return Fail(swarmError.Error, swarmError.Kind);
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
        _partialDirectory = Path.GetDirectoryName(partialPath)!;
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
            _fetcher.ForgetTicket(_key);
        }
    }

    private (string Error, TaskErrorKind Kind)? SwarmError
    {
        get
        {
            lock (_stateLock)
            {
                return _swarmError;
            }
        }
    }

    /// <summary>
    /// What vouches for the whole file of a <see cref="WholeFileProof.ManifestBinding"/> download once
    /// every piece matched its digest: a content task's id, which the broker's manifest binds to the
    /// piece digests; a URL task's content digest as its source reported it (<see cref="ContentDigestLearned"/>),
    /// the party the piece digests came from too (so whoever could forge the one could forge the
    /// other). Null, and the file is hashed, for a URL task whose source has not said it yet, whose
    /// content digest was named before the run (<see cref="_contentNamedUpFront"/>: it may be someone's
    /// --digest, which the piece digests must not answer for), or that this agent was named the source
    /// of (in this run, or <paramref name="sourcedBefore"/>): a source says what its bytes hash to.
    /// Called by the hasher.
    /// </summary>
    private byte[]? BoundDigest(bool sourcedBefore)
    {
        if (!_urlTask)
        {
            // A chain dropped mid-run proved only some pieces: the whole file is hashed instead.
            return _proof == WholeFileProof.PieceChain && !CheckingByChain ? null : Digest.ToBytes();
        }
        if (sourcedBefore || _contentNamedUpFront || CurrentSourceRequest is not null || KnownContent is not { } content)
        {
            return null;
        }
        Volatile.Write(ref _boundBySource, true);
        return content.ToBytes();
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
        _record.ErrorKind = TaskErrorKind.Other;
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
        var sourcedBefore = _record.BytesFromSource > 0;
        // The chain proves the file only if it checked every piece: a piece kept from an earlier run
        // was checked against its digest alone, so such a run hashes the whole file instead.
        var proof = _proof;
        if (proof == WholeFileProof.PieceChain)
        {
            var byChain = _chain is not null && done.CountSet == 0;
            proof = byChain ? WholeFileProof.PieceChain : WholeFileProof.Sha256;
            TransferLog.ProofChosen(_logger, Digest, byChain
                ? "every piece is checked against the manifest's SHA-256 chain, one pass that proves the whole file"
                : _chain is null
                    ? "the manifest lists no usable SHA-256 chain: the pieces are checked against their digests and the whole file is hashed"
                    : $"{done.CountSet} pieces are kept from an earlier run: the whole file is hashed");
        }
        Volatile.Write(ref _proofUsed, (int)proof);
        // The chained checks already prove the content id, so the hasher only waits for every piece.
        var hasherProof = proof == WholeFileProof.PieceChain ? WholeFileProof.ManifestBinding : proof;
        using var hasher = new WholeFileHasher(_layout, file, _digests, _fetcher.RentBuffer, _fetcher.ReturnBuffer, done,
            hasherProof, hasherProof == WholeFileProof.ManifestBinding ? () => BoundDigest(sourcedBefore) : null);
        _hasher = hasher;
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var persisted = new PersistState(done, doneBytes, _savedDigests, Volatile.Read(ref _digestVersion))
        {
            BaseFromPeers = _record.BytesFromPeers,
            BaseFromSource = _record.BytesFromSource,
            ManifestSavedAt = _time.GetTimestamp(),
            SavedAt = _time.GetTimestamp(),
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
        using var mapWatches = _options.FollowParentMaps
            ? new ParentMapWatches(_fetcher, _key, _store.PeerId, (peer, indexes) => _events.Writer.TryWrite(new PiecesGained(peer, indexes)))
            : null;
        try
        {
            end = await LoopAsync(picker, attempts, running, startedAt, mapWatches, run.Token).ConfigureAwait(false);
        }
        finally
        {
            mapWatches?.Dispose();
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
                _reporter.SourceFailed(Digest, error, false, end.ErrorKind);
            }
            return Fail(error, end.ErrorKind);
        }
        if (source is not null && Volatile.Read(ref _boundBySource))
        {
            // Named the source after the hasher took the old source's word for the whole file: a
            // source reports what it fetched hashes to, so it hashes it.
            try
            {
                end = end with { Digest = WholeFileHasher.HashFile(file, _layout, _fetcher.RentBuffer, _fetcher.ReturnBuffer) };
            }
            catch (IOException e)
            {
                return Fail($"cannot read back {partialPath}: {e.Message}");
            }
        }
        var actual = ContentDigest.FromHash(end.Digest);
        if (!_urlTask && actual != Digest)
        {
            // Every piece matched its digest, so the manifest itself is inconsistent: start over if retried.
            Discard(partialPath);
            return Fail($"the downloaded file hashes to {actual}, not to its content id {Digest}; the manifest does not describe this content",
                TaskErrorKind.DigestMismatch);
        }
        if (_urlTask && CheckUrlContent(actual, source) is { } mismatch)
        {
            Discard(partialPath);
            return Fail(mismatch, TaskErrorKind.DigestMismatch);
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

}
