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
internal sealed class DownloadWaiter(string? output, ContentDigest? expected = null)
{
    public string? Output { get; } = output;

    /// <summary>--digest: what the content must hash to, or null.</summary>
    public ContentDigest? Expected { get; } = expected;

    // Progress snapshots may be dropped when the reader is slow; the newest (the final one) never is.
    public Channel<TaskInfo> Updates { get; } = Channel.CreateBounded<TaskInfo>(
        new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
}
