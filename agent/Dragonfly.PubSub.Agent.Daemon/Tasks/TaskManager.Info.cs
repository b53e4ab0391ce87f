using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Transfer.Swarm;
using PublishRequest = Dragonfly.PubSub.Client.PublishRequest;

namespace Dragonfly.PubSub.Agent.Tasks;

// What the task table shows: task snapshots for the API and waiters, change notifications, and
// the membership the scheduler session re-joins after a reconnect.
public sealed partial class TaskManager
{
    private static List<ParentPeer> ToParents(ParentSet set, int pieceCount) =>
        set.Parents.Select(p => new ParentPeer(p.PeerId, p.Host, p.Port, PieceBitmap.FromBytes(p.Bitmap.Span, pieceCount), p.LastResort)).ToList();

    /// <summary>What to tell a (re)connected scheduler: every task held or being fetched.</summary>
    private IEnumerable<JoinTask> Membership()
    {
        lock (_gate)
        {
            var joins = new List<JoinTask>();
            foreach (var entry in _tasks.Values)
            {
                if (entry.State == TaskStates.Succeeded)
                {
                    joins.Add(SchedulerSession.NewJoin(entry.Digest, PieceBitmap.Full(entry.Record.PieceCount), entry.Record.Publisher));
                }
                else if (entry.Downloader is not null && entry.State == TaskStates.Running)
                {
                    joins.Add(SchedulerSession.NewJoin(entry.Digest, PieceBitmap.FromBytes(entry.Record.Bitmap ?? [], entry.Record.PieceCount), entry.Record.Publisher));
                }
            }
            return joins;
        }
    }

    private void Notify(TaskEntry entry)
    {
        TaskInfo info;
        DownloadWaiter[] waiters;
        lock (_gate)
        {
            info = ToInfo(entry);
            waiters = [.. entry.Waiters];
        }
        foreach (var waiter in waiters)
        {
            waiter.Progress(info with { Path = waiter.Output ?? StorePath(entry) });
        }
        TaskChanged?.Invoke(info);
    }

    private TaskInfo ToInfo(TaskEntry entry)
    {
        var record = entry.Record;
        var progress = entry.Downloader?.Progress;
        var completed = entry.State == TaskStates.Succeeded
            ? record.PieceCount
            : progress?.CompletedPieces ?? PieceBitmap.FromBytes(record.Bitmap ?? [], record.PieceCount).CountSet;
        return new TaskInfo
        {
            Digest = record.Id,
            Name = record.Name,
            Topic = record.Topic,
            State = entry.State,
            Size = record.Size,
            CompletedPieces = completed,
            TotalPieces = record.PieceCount,
            BytesFromPeers = progress?.BytesFromPeers ?? record.BytesFromPeers,
            BytesFromSource = progress?.BytesFromSource ?? record.BytesFromSource,
            Path = entry.SubscriptionOutputs.FirstOrDefault() ?? record.OutputPath ?? (entry.CacheOnly ? StorePath(entry) : null),
            Error = record.Error,
            ErrorKind = entry.State == TaskStates.Failed ? TaskErrorKinds.Name(record.ErrorKind) : null,
            // A failed task's expected digest may be exactly what the content did not hash to.
            ContentDigest = entry.IsUrlTask && entry.State != TaskStates.Failed ? entry.Content?.ToString() : null,
            AnnouncedAt = Rfc3339(record.ReceivedAt ?? record.CreatedAt),
            FirstPieceRequestedAt = Rfc3339(entry.Downloader?.FirstPieceRequestedAt ?? record.FirstPieceRequestedAt),
        };
    }

    /// <summary>RFC 3339 in UTC with milliseconds, as the task JSON carries times.</summary>
    private static string? Rfc3339(DateTime? time) =>
        time is { } t ? DateTime.SpecifyKind(t, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture) : null;

    /// <summary>&lt;output-dir&gt;/&lt;topic&gt;/&lt;name&gt;, refusing anything that would land outside output-dir.</summary>
    private string SubscriptionOutput(string topic, string name)
    {
        var root = Path.GetFullPath(_options.OutputDir);
        var path = Path.GetFullPath(Path.Combine(root, Path.Combine(topic.Split('/')), name));
        if (!path.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new IOException($"topic '{topic}' and name '{name}' would land outside the output directory");
        }
        return path;
    }
}
