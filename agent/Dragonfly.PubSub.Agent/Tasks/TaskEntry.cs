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
    public TaskDownloader? Downloader { get; set; }

    /// <summary>What the API reports; Succeeded only once every requested output is in place.</summary>
    public string State { get; set; } = TaskStates.Pending;

    /// <summary>Where the task lands for a subscription: &lt;output-dir&gt;/&lt;topic&gt;/&lt;name&gt;.</summary>
    public HashSet<string> SubscriptionOutputs { get; } = [];

    /// <summary>When the newest announcement of this task was made (orders versions at one output path).</summary>
    public DateTimeOffset AnnouncedAt { get; set; }

    /// <summary>dfget requests waiting for the task to finish.</summary>
    public List<DownloadWaiter> Waiters { get; } = [];
}

/// <summary>One download request: its output and the stream of snapshots sent back to it.</summary>
internal sealed class DownloadWaiter(string output)
{
    public string Output { get; } = output;

    // Progress snapshots may be dropped when the reader is slow; the newest (the final one) never is.
    public Channel<TaskInfo> Updates { get; } = Channel.CreateBounded<TaskInfo>(
        new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
}
