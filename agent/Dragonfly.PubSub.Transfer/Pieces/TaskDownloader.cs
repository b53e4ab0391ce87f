using System.Threading.Channels;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Metrics;
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
/// </summary>
public sealed class TaskDownloader
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan NeedParentsInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PersistDelay = TimeSpan.FromMilliseconds(50);
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
    private readonly Channel<LoopEvent> _events = Channel.CreateUnbounded<LoopEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<PersistOp> _persist = Channel.CreateUnbounded<PersistOp>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _progressLock = new();
    private readonly DigestKey _key;
    private readonly PieceLayout _layout;
    private DownloadProgress _progress;
    private int _started;

    // Set up by RunAsync; fetches use them while it runs.
    private SafeFileHandle? _file;
    private WholeFileHasher? _hasher;
    private int[] _claims = [];
    private ReadOnlyMemory<byte>[] _pieceDigests = [];

    public TaskDownloader(
        Manifest manifest, TaskRecord record, AgentStore store, ContentStore content, LocalPieces pieces,
        PieceFetcher fetcher, ISwarmReporter reporter, TransferOptions options, ILogger logger, TimeProvider time)
        : this(manifest, record, store, content, pieces, fetcher, reporter, options, logger, time, Random.Shared)
    {
    }

    internal TaskDownloader(
        Manifest manifest, TaskRecord record, AgentStore store, ContentStore content, LocalPieces pieces,
        PieceFetcher fetcher, ISwarmReporter reporter, TransferOptions options, ILogger logger, TimeProvider time, Random random)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(record);
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
        Digest = ContentDigest.TryParse(manifest.Digest, out var digest)
            ? digest.Value
            : throw new ArgumentException($"manifest digest '{manifest.Digest}' is not a sha256: content id", nameof(manifest));
        if (record.Id.Length > 0 && record.Id != manifest.Digest)
        {
            throw new ArgumentException($"record {record.Id} is not the task of manifest {manifest.Digest}", nameof(record));
        }
        _key = DigestKey.From(Digest);
        _layout = manifest.Size >= 0 && manifest.PieceSize > 0 ? manifest.Layout() : new PieceLayout(0, PieceLayout.DefaultPieceSize);
        _progress = InitialProgress(record, _layout);
    }

    public ContentDigest Digest { get; }

    /// <summary>What the record says is done, so a task shows its progress before it runs.</summary>
    private static DownloadProgress InitialProgress(TaskRecord record, PieceLayout layout)
    {
        if (record.PieceSize != layout.PieceSize || record.PieceCount != layout.PieceCount)
        {
            return new DownloadProgress(0, layout.PieceCount, 0, record.BytesFromPeers);
        }
        var done = PieceBitmap.FromBytes(record.Bitmap ?? [], layout.PieceCount);
        var bytes = done.SetIndexes().Sum(i => (long)layout.LengthOf(i));
        return new DownloadProgress(done.CountSet, layout.PieceCount, bytes, record.BytesFromPeers);
    }

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
    /// Downloads until every piece is verified, the content id checked, and the file renamed into
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

        if (_content.HasContent(Digest))
        {
            return Complete(_content.ContentPath(Digest), startedAt);
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

    /// <summary>What a download relies on (name and topic are the host's business).</summary>
    private string? CheckManifest()
    {
        if (_manifest.Size < 0 || _manifest.PieceSize < PieceLayout.MinPieceSize || _manifest.PieceSize > PieceLayout.MaxPieceSize)
        {
            return $"size {_manifest.Size} or piece size {_manifest.PieceSize} is out of range";
        }
        if (_manifest.PieceDigests.Count != _layout.PieceCount)
        {
            return $"it lists {_manifest.PieceDigests.Count} piece digests, the layout needs {_layout.PieceCount}";
        }
        return _manifest.PieceDigests.Any(d => d.Length != System.Security.Cryptography.SHA256.HashSizeInBytes)
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
        if (_record.ManifestBytes.Length == 0)
        {
            _record.ManifestBytes = _manifest.ToByteArray();
        }
        if (_record.CreatedAt == default)
        {
            _record.CreatedAt = now;
        }
        _record.UpdatedAt = now;
        _pieceDigests = _manifest.PieceDigests.Select(d => d.Memory).ToArray();
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
        SetProgress(new DownloadProgress(done.CountSet, count, doneBytes, _record.BytesFromPeers));
        TransferLog.DownloadStarted(_logger, Digest, done.CountSet, count);

        var window = Math.Max(1, Math.Min(_options.PiecesInFlight, Math.Max(2, (int)(InFlightBudget / _layout.PieceSize))));
        var picker = new PiecePicker(count, window, _random, done);
        using var hasher = new WholeFileHasher(_layout, file, _pieceDigests, _fetcher.ReturnBuffer, done);
        _hasher = hasher;
        using var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var persisted = new PersistState(done, doneBytes) { BaseFromPeers = _record.BytesFromPeers };
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
        byte[]? wholeDigest = null;
        string? fatal = null;
        try
        {
            (wholeDigest, fatal) = await LoopAsync(picker, attempts, running, startedAt, run.Token).ConfigureAwait(false);
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
            fatal ??= persistError;
            _hasher = null;
            // Parent updates that arrive from now on have nobody to read them.
            _events.Writer.TryComplete();
        }

        if (fatal is not null)
        {
            return Fail(fatal);
        }
        if (wholeDigest is null)
        {
            return Fail("the download stopped before every piece was hashed");
        }
        var actual = ContentDigest.FromHash(wholeDigest);
        if (actual != Digest)
        {
            // Every piece matched its digest, so the manifest itself is inconsistent: start over if retried.
            _pieces.Remove(Digest);
            _record.Bitmap = [];
            file.Dispose();
            ContentStore.TryDelete(partialPath);
            return Fail($"the downloaded file hashes to {actual}, not to its content id {Digest}; the manifest does not describe this content");
        }
        try
        {
            RandomAccess.FlushToDisk(file);
            file.Dispose();
            var target = _content.ContentPath(Digest);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(partialPath, target, overwrite: true);
            return Complete(target, startedAt);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail($"cannot move the finished download into the content store: {e.Message}");
        }
    }

    /// <summary>The owner loop: reacts to events until the whole file is in and hashed.</summary>
    private async Task<(byte[]? Digest, string? Fatal)> LoopAsync(
        PiecePicker picker, Dictionary<int, List<Attempt>> attempts, HashSet<Attempt> running, long startedAt, CancellationToken ct)
    {
        var reader = _events.Reader;
        TimeSpan? lastNeedParents = null;
        var parentSets = 0;
        while (true)
        {
            if (!await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                return (null, "the download was stopped");
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
                    case AttemptDone d:
                        if (OnAttemptDone(picker, attempts, running, d, now) is { } error)
                        {
                            return (null, error);
                        }
                        break;
                    case Damaged d:
                        TransferLog.DamagedOnDisk(_logger, Digest, d.Index);
                        picker.MarkNotDone(d.Index);
                        _pieces.UnmarkPiece(Digest, d.Index);
                        Volatile.Write(ref _claims[d.Index], 0);
                        _persist.Writer.TryWrite(new PersistOp(d.Index, Done: false, FromPeers: 0));
                        break;
                    case Hashed h:
                        return (h.Digest, null);
                    case Fatal f:
                        return (null, f.Error);
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
                var attempt = new Attempt(index, parent, CancellationTokenSource.CreateLinkedTokenSource(ct));
                running.Add(attempt);
                if (!attempts.TryGetValue(index, out var list))
                {
                    attempts[index] = list = [];
                }
                list.Add(attempt);
                AgentMetrics.PiecesInFlight.Inc();
                attempt.Task = Task.Run(() => FetchAsync(attempt));
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

    private string? OnAttemptDone(PiecePicker picker, Dictionary<int, List<Attempt>> attempts, HashSet<Attempt> running, AttemptDone done, TimeSpan now)
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
            case AttemptOutcome.Fatal:
                return done.Error ?? "writing a piece failed";
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

    /// <summary>One request: fetch into a pooled buffer, verify, and (first copy only) write and hand on.</summary>
    private async Task FetchAsync(Attempt attempt)
    {
        var index = attempt.Index;
        var length = _layout.LengthOf(index);
        var offset = _layout.OffsetOf(index);
        var buffer = _fetcher.RentBuffer(_layout.PieceSize);
        var keep = false;
        AttemptOutcome outcome;
        string? error = null;
        try
        {
            var result = await _fetcher.FetchAsync(attempt.Parent.Host, attempt.Parent.Port, _key, offset,
                buffer.AsMemory(0, length), _pieceDigests[index], attempt.Token).ConfigureAwait(false);
            outcome = result.Status switch
            {
                FetchStatus.Ok => AttemptOutcome.Duplicate,
                FetchStatus.Corrupt => AttemptOutcome.Corrupt,
                FetchStatus.Missing => AttemptOutcome.Missing,
                FetchStatus.Busy => AttemptOutcome.Busy,
                FetchStatus.Full => AttemptOutcome.Full,
                FetchStatus.Unreachable => AttemptOutcome.Unreachable,
                _ => AttemptOutcome.Canceled,
            };
            if (result.Status == FetchStatus.Ok)
            {
                AgentMetrics.DownloadBytesFromPeers.Inc(length);
                // Only the first verified copy is written, so a late duplicate never touches a finished piece.
                if (Interlocked.CompareExchange(ref _claims[index], 1, 0) == 0)
                {
                    try
                    {
                        RandomAccess.Write(_file!, buffer.AsSpan(0, length), offset);
                    }
                    catch
                    {
                        Volatile.Write(ref _claims[index], 0);
                        throw;
                    }
                    _pieces.MarkPiece(Digest, index);
                    keep = _hasher?.Written(index, buffer) ?? false;
                    _persist.Writer.TryWrite(new PersistOp(index, Done: true, FromPeers: length));
                    outcome = AttemptOutcome.Written;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            outcome = AttemptOutcome.Fatal;
            error = $"cannot write piece {index} to the partial file: {e.Message}";
        }
        catch (Exception e)
        {
            // A bug: fail the task with what happened rather than leave the loop waiting for this piece forever.
            outcome = AttemptOutcome.Fatal;
            error = $"fetching piece {index} failed unexpectedly: {e.GetType().Name}: {e.Message}";
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
            if (error is null)
            {
                try
                {
                    error = Persist(state, batch, finished);
                }
                catch (Exception e)
                {
                    error = $"recording progress failed unexpectedly: {e.GetType().Name}: {e.Message}";
                    _events.Writer.TryWrite(new Fatal(error));
                }
            }
            batch.Clear();
            finished.Clear();
        }
        return error;
    }

    private string? Persist(PersistState state, List<PersistOp> batch, List<int> finished)
    {
        foreach (var op in batch)
        {
            if (op.Done && !state.Done[op.Index])
            {
                state.Done[op.Index] = true;
                state.Count++;
                state.Bytes += _layout.LengthOf(op.Index);
                state.FromPeers += op.FromPeers;
                finished.Add(op.Index);
            }
            else if (!op.Done && state.Done[op.Index])
            {
                state.Done[op.Index] = false;
                state.Count--;
                state.Bytes -= _layout.LengthOf(op.Index);
                finished.Remove(op.Index);
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
        _record.UpdatedAt = _time.GetUtcNow().UtcDateTime;
        try
        {
            _store.Save(_record);
        }
        catch (Exception e) when (e is LiteDB.LiteException or IOException or ObjectDisposedException)
        {
            _events.Writer.TryWrite(new Fatal($"cannot save progress in the agent database: {e.Message}"));
            return e.Message;
        }
        var progress = new DownloadProgress(state.Count, _layout.PieceCount, state.Bytes, _record.BytesFromPeers);
        SetProgress(progress);
        if (finished.Count > 0)
        {
            _reporter.PiecesFinished(Digest, finished.ToArray());
        }
        RaiseProgress(progress);
        return null;
    }

    private DownloadOutcome Complete(string path, long startedAt)
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
        try
        {
            _store.Save(_record);
        }
        catch (Exception e) when (e is LiteDB.LiteException or IOException or ObjectDisposedException)
        {
            return Fail($"the download finished but the agent database could not record it: {e.Message}");
        }
        var progress = new DownloadProgress(_layout.PieceCount, _layout.PieceCount, _layout.Size, _record.BytesFromPeers);
        SetProgress(progress);
        RaiseProgress(progress);
        TransferLog.DownloadFinished(_logger, Digest, _layout.Size, _record.BytesFromPeers, _time.GetElapsedTime(startedAt).TotalSeconds);
        return DownloadOutcome.Success;
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

    private sealed class PersistState(PieceBitmap done, long bytes)
    {
        public bool[] Done { get; } = Enumerable.Range(0, done.PieceCount).Select(i => done[i]).ToArray();
        public int Count { get; set; } = done.CountSet;
        public long Bytes { get; set; } = bytes;
        public long BaseFromPeers { get; init; }
        public long FromPeers { get; set; }
    }

    private sealed class Attempt(int index, PiecePicker.ParentRef parent, CancellationTokenSource cts) : IDisposable
    {
        private int _disposed;

        public int Index { get; } = index;
        public PiecePicker.ParentRef Parent { get; } = parent;
        public CancellationToken Token { get; } = cts.Token;
        public Task? Task { get; set; }

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
    }

    private readonly record struct PersistOp(int Index, bool Done, long FromPeers);

    private abstract record LoopEvent;

    private sealed record ParentsChanged(ParentPeer[] Parents) : LoopEvent;

    private sealed record PiecesGained(string PeerId, int[] Indexes) : LoopEvent;

    private sealed record AttemptDone(Attempt Attempt, AttemptOutcome Outcome, string? Error) : LoopEvent;

    private sealed record Damaged(int Index) : LoopEvent;

    private sealed record Hashed(byte[] Digest) : LoopEvent;

    private sealed record Fatal(string Error) : LoopEvent;

    private sealed record Tick : LoopEvent
    {
        public static Tick Instance { get; } = new();
    }
}
