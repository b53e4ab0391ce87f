using System.Threading.Channels;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Tasks;

/// <summary>A task the agent knows, with what runs for it now. Guarded by the task manager's lock.</summary>
internal sealed class TaskEntry(ContentDigest digest, TaskRecord record)
{
    public ContentDigest Digest { get; } = digest;
    public TaskRecord Record { get; } = record;
    public Manifest? Manifest { get; set; }

    /// <summary>The downloader of the current run; null between runs (and before the first).</summary>
    public TaskDownloader? Downloader { get; set; }

    /// <summary>What the API reports; Succeeded only once every requested output is in place.</summary>
    public string State { get; set; } = TaskStates.Pending;

    /// <summary>A URL task: <see cref="Digest"/> is its task id, not the hash of its bytes.</summary>
    public bool IsUrlTask => Manifest?.UrlTask ?? UrlTaskAnnounced;

    /// <summary>Announced as a URL task before its manifest is known.</summary>
    public bool UrlTaskAnnounced { get; set; }

    /// <summary>The whole file's sha256 of a URL task once known (TaskSourced, --digest, or hashed here).</summary>
    public ContentDigest? Content { get; set; }

    /// <summary>
    /// The manifest was handed over by the broker in this process (RegisterUrlTask or FetchSource),
    /// so the broker knows the task; a URL task resumed from the store must first check that.
    /// </summary>
    public bool Registered { get; set; }

    /// <summary>
    /// How to register this URL task again (URL, headers, piece size) should the broker restart and
    /// forget it: the request dfget made, or what a FetchSource handed a seed. In memory only (the
    /// headers may be credentials); dropped when the run ends.
    /// </summary>
    public RegisterUrlTaskRequest? Registration { get; set; }

    /// <summary>A check that the broker still knows this URL task runs (after a reconnect).</summary>
    public bool Regaining { get; set; }

    /// <summary>When a task other than a URL task last joined again on NotJoined (the clock's timestamp); 0: never.</summary>
    public long JoinedAgainAt { get; set; }

    /// <summary>
    /// Kept in the content store only, never placed under output-dir: an image blob (preheated or
    /// pulled through the registry mirror). The task list shows the content-store path.
    /// </summary>
    public bool CacheOnly { get; set; }

    /// <summary>
    /// The last run stopped because the disk was full: the task shows as failed with that error,
    /// keeps its verified pieces, and the cache collector runs it again once its missing bytes fit.
    /// </summary>
    public bool WaitingForSpace { get; set; }

    /// <summary>
    /// Placements of the content at output paths (and answers to download requests) under way:
    /// raised under the task manager's lock when one is decided, so the cache never evicts content
    /// between that decision and the placement.
    /// </summary>
    public int Placements { get; set; }

    /// <summary>Per-task download cap in bytes per second (dfget --limit); 0 = none.</summary>
    public long DownloadLimit { get; set; }

    /// <summary>Where the task lands for a subscription: &lt;output-dir&gt;/&lt;topic&gt;/&lt;name&gt;.</summary>
    public HashSet<string> SubscriptionOutputs { get; } = [];

    /// <summary>When the newest announcement of this task was made (the broker's clock; retries preheated blobs).</summary>
    public DateTimeOffset AnnouncedAt { get; set; }

    /// <summary>The broker's sequence number of the newest announcement of this task (orders versions at one output path).</summary>
    public long AnnouncedSequence { get; set; }

    /// <summary>
    /// How this process's last run proved the content: <see cref="WholeFileProof.ManifestBinding"/>
    /// means the whole file was never hashed here, so a download request that names the digest
    /// (and joined after the run began) has it hashed before it is answered. Null: not run here.
    /// </summary>
    public WholeFileProof? Proof { get; set; }

    /// <summary>dfget requests waiting for the task to finish.</summary>
    public List<DownloadWaiter> Waiters { get; } = [];

    /// <summary>
    /// The task's inbox: the scheduler's events about it and requests to run it, read only by the
    /// task's own loop (<see cref="TaskManager"/>, TaskManager.Runs.cs).
    /// </summary>
    public TaskInbox Inbox { get; } = new();
}

/// <summary>One download request: its output and the stream of snapshots sent back to it.</summary>
/// <param name="output">Where to place the content; null = the content store only (the registry mirror).</param>
/// <param name="time">The clock of the progress throttle (<see cref="Progress"/>).</param>
internal sealed class DownloadWaiter(string? output, ContentDigest? expected = null, TimeProvider? time = null)
{
    /// <summary>
    /// At most one progress snapshot per this gap (a progress bar draws at most 10 a second). Every verified piece
    /// changes the progress; one line per piece cost the agent and its dfget ~1 ms of CPU each, on 2 cores shared
    /// with the swarm (16 dfgets of a 256 MiB URL, 2026-12-06).
    /// </summary>
    public static readonly TimeSpan ProgressGap = TimeSpan.FromMilliseconds(200);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private long _lastSent = long.MinValue;
    private string? _lastState;
    private TaskInfo? _held;
    private ITimer? _flush;
    private bool _finished;

    public string? Output { get; } = output;

    /// <summary>--digest: what the content must hash to, or null.</summary>
    public ContentDigest? Expected { get; } = expected;

    // Progress snapshots may be dropped when the reader is slow; the newest (the final one) never is.
    public Channel<TaskInfo> Updates { get; } = Channel.CreateBounded<TaskInfo>(
        new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>
    /// A progress snapshot: sent at once when the state changed or <see cref="ProgressGap"/> has passed since the last
    /// one; otherwise held, and the newest held one sent when the gap ends, so the reader always ends up with the
    /// latest progress (also of a download that stalls). The final snapshot goes straight to <see cref="Updates"/>.
    /// </summary>
    public void Progress(TaskInfo info)
    {
        lock (_gate)
        {
            if (_finished)
            {
                return; // taken before the end, sent after it: the final snapshot stays the last word
            }
            var now = _time.GetTimestamp();
            var since = _lastSent == long.MinValue ? ProgressGap : _time.GetElapsedTime(_lastSent, now);
            if (info.State != _lastState || since >= ProgressGap)
            {
                _held = null;
                SendLocked(info, now);
                return;
            }
            _held = info;
            _flush ??= _time.CreateTimer(_ => Flush(), null, ProgressGap - since, Timeout.InfiniteTimeSpan);
        }
    }

    private void Flush()
    {
        lock (_gate)
        {
            _flush?.Dispose();
            _flush = null;
            if (_held is { } held)
            {
                _held = null;
                SendLocked(held, _time.GetTimestamp());
            }
        }
    }

    /// <summary>
    /// The final snapshot, then the end of the stream. Under the same lock as <see cref="Progress"/>: a progress
    /// snapshot taken before the task finished but sent a moment later (Notify, the throttle's timer) must never land
    /// between the final one and the end, where the reader would take it for the last word.
    /// </summary>
    public void Finish(TaskInfo final) => End(final);

    /// <summary>The request went away: the stream ends without a final snapshot.</summary>
    public void Abandon() => End(null);

    private void End(TaskInfo? final)
    {
        lock (_gate)
        {
            _finished = true;
            _held = null;
            _flush?.Dispose();
            _flush = null;
            if (final is not null)
            {
                Updates.Writer.TryWrite(final);
            }
            Updates.Writer.TryComplete();
        }
    }

    private void SendLocked(TaskInfo info, long now)
    {
        Updates.Writer.TryWrite(info);
        _lastSent = now;
        _lastState = info.State;
    }
}
