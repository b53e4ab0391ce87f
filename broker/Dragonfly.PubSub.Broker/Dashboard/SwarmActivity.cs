using System.Collections.Concurrent;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// What the swarm did, as the agents report it to the scheduler: per task who joined and finished when,
/// who served whom how many bytes (<c>PiecesFinished.parents</c>), what the origin served, what failed; and
/// the totals over all tasks that the traffic charts sample. Fed by the shards (one call per event they
/// applied, on their loop); read by the dashboard. Bounded: at most <see cref="MaxTasks"/> tasks, the
/// ended ones forgotten first.
/// </summary>
internal sealed class SwarmActivity(TimeProvider time)
{
    public const int MaxTasks = 256;

    private readonly ConcurrentDictionary<string, TaskActivity> _tasks = new(StringComparer.Ordinal);
    private long _delivered, _fromPeers, _fromPublishers, _unattributed, _sourced, _sourcedByMembers;

    public FailureLog Failures { get; } = new();

    /// <summary>The totals since the start (see <see cref="TrafficTotals"/>).</summary>
    public TrafficTotals Totals()
    {
        var sourced = Interlocked.Read(ref _sourced);
        var fromPublishers = Interlocked.Read(ref _fromPublishers);
        return new TrafficTotals(
            Interlocked.Read(ref _delivered), Interlocked.Read(ref _fromPeers), fromPublishers, Interlocked.Read(ref _unattributed),
            sourced, Interlocked.Read(ref _sourcedByMembers));
    }

    internal IReadOnlyList<TaskActivity> Tasks => [.. _tasks.Values];

    internal TaskActivity? Find(string digest) => _tasks.GetValueOrDefault(digest);

    /// <summary>A peer joined (or re-joined) a task holding <paramref name="held"/> pieces.</summary>
    /// <param name="manifestOf">The task's manifest (its piece layout), asked only the first time the task is seen.</param>
    internal void Joined(string digest, string peerId, bool publisher, PieceBitmap held, Func<string, Manifest?> manifestOf)
    {
        var now = time.GetUtcNow();
        var task = _tasks.GetOrAdd(digest, static (d, state) =>
        {
            var manifest = state.manifestOf(d);
            var layout = manifest is null ? new PieceLayout(0, 0) : new PieceLayout(manifest.Size, manifest.PieceSize);
            return new TaskActivity(d, layout, manifest?.UrlTask ?? false, state.now);
        }, (manifestOf, now));
        lock (task.Gate)
        {
            task.LastActivity = now;
            if (task.Member(peerId, now, create: true) is { } member)
            {
                member.LeftAt = null;
                member.Publisher = publisher;
                member.Held = held.CountSet;
                if (member.Counted is null)
                {
                    member.Counted = PieceBitmap.FromBytes(held.ToBytes(), held.PieceCount);
                    member.HeldAtJoin = member.Held;
                }
                if (held.IsComplete && member.CompletedAt is null)
                {
                    member.CompletedAt = now;
                }
            }
        }
        if (_tasks.Count > MaxTasks)
        {
            ForgetOldest();
        }
    }

    /// <summary>
    /// <paramref name="peerId"/> reported pieces (each is counted once per member, see <see cref="MemberActivity.Counted"/>);
    /// <paramref name="held"/> and <paramref name="complete"/> as the scheduler sees it now.
    /// <paramref name="sourced"/>: it is the URL task's source and these came from the origin;
    /// <paramref name="seed"/>: it is a seed peer (its origin fetches serve the fleet, not itself).
    /// </summary>
    internal void PiecesFinished(string digest, string peerId, PiecesFinished message, int held, bool complete, bool sourced, bool seed)
    {
        if (message.Indexes.Count == 0 || !_tasks.TryGetValue(digest, out var task))
        {
            return;
        }
        Dictionary<int, string>? parents = null;
        if (!sourced && message.Parents.Count == message.Indexes.Count)
        {
            parents = new Dictionary<int, string>(message.Indexes.Count);
            for (var k = 0; k < message.Indexes.Count; k++)
            {
                parents[message.Indexes[k]] = message.Parents[k];
            }
        }
        var now = time.GetUtcNow();
        long fromPeers = 0, fromPublishers = 0, unattributed = 0, total = 0;
        lock (task.Gate)
        {
            task.LastActivity = now;
            var member = task.Member(peerId, now, create: false);
            if (member?.Counted is not { } counted)
            {
                return; // not listed (too many members) or never joined
            }
            foreach (var index in message.Indexes)
            {
                if ((uint)index >= (uint)counted.PieceCount || !counted.Set(index))
                {
                    continue; // out of range (the scheduler logged it), or counted already
                }
                var bytes = task.LengthOf(index);
                total += bytes;
                if (sourced)
                {
                    continue;
                }
                var parentId = parents?.GetValueOrDefault(index) ?? "";
                var parent = parentId.Length == 0 ? null : task.Member(parentId, now, create: false);
                if (parent is null)
                {
                    unattributed += bytes;
                    continue;
                }
                parent.ServedBytes += bytes;
                task.AddEdge(parentId, peerId, bytes);
                // A publisher is the origin of what it published; a URL task's seed is a peer (its origin is the URL's server).
                if (parent.Publisher && !task.UrlTask)
                {
                    fromPublishers += bytes;
                }
                else
                {
                    fromPeers += bytes;
                }
            }
            member.ReceivedBytes += total;
            member.Held = held;
            if (sourced)
            {
                member.SourcedBytes += total;
            }
            if (complete && member.CompletedAt is null)
            {
                member.CompletedAt = now;
            }
            if (sourced)
            {
                task.SourcedBytes += total;
            }
            else
            {
                task.DeliveredBytes += total;
                task.FromPeerBytes += fromPeers;
                task.FromPublisherBytes += fromPublishers;
                task.UnattributedBytes += unattributed;
            }
        }
        if (sourced)
        {
            Interlocked.Add(ref _sourced, total);
            if (!seed)
            {
                Interlocked.Add(ref _sourcedByMembers, total);
            }
            return;
        }
        Interlocked.Add(ref _delivered, total);
        Interlocked.Add(ref _fromPeers, fromPeers);
        Interlocked.Add(ref _fromPublishers, fromPublishers);
        Interlocked.Add(ref _unattributed, unattributed);
        DashboardMetrics.Delivered.WithLabels("peer").Inc(fromPeers);
        DashboardMetrics.Delivered.WithLabels("publisher").Inc(fromPublishers);
        DashboardMetrics.Delivered.WithLabels("unknown").Inc(unattributed);
    }

    /// <summary>A member reported a failed piece (<paramref name="kind"/>: corrupt, unreachable, missing).</summary>
    internal void PieceFailed(string digest, string peerId, string parentId, string kind, int index)
    {
        var now = time.GetUtcNow();
        if (_tasks.TryGetValue(digest, out var task))
        {
            lock (task.Gate)
            {
                task.LastActivity = now;
                task.Failures[kind] = task.Failures.GetValueOrDefault(kind) + 1;
            }
        }
        Failures.Add("piece_" + kind, now, digest, peerId, parentId, $"piece {index}");
    }

    /// <summary>The peer left the task (LeaveTask, or its session ended).</summary>
    internal void Left(string digest, string peerId)
    {
        if (_tasks.TryGetValue(digest, out var task))
        {
            var now = time.GetUtcNow();
            lock (task.Gate)
            {
                task.LastActivity = now;
                if (task.Member(peerId, now, create: false) is { } member)
                {
                    member.LeftAt = now;
                }
            }
        }
    }

    /// <summary>A URL task's source gave up: <paramref name="permanent"/> fails the task for everyone.</summary>
    internal void SourceFailed(string digest, string peerId, string error, bool permanent) =>
        Failures.Add(permanent ? "task_failed" : "source_failed", time.GetUtcNow(), digest, peerId, "", error);

    internal void JoinRefused(string digest, string peerId, string reason) =>
        Failures.Add("join_refused", time.GetUtcNow(), digest, peerId, "", reason);

    /// <summary>Drops the ended task (no member left) that was quiet longest; a live one only if every task is live.</summary>
    private void ForgetOldest()
    {
        TaskActivity? oldest = null;
        var oldestLive = false;
        foreach (var task in _tasks.Values)
        {
            bool live;
            DateTimeOffset last;
            lock (task.Gate)
            {
                live = task.Members.Values.Any(m => m.LeftAt is null);
                last = task.LastActivity;
            }
            if (oldest is null || (oldestLive && !live) || (oldestLive == live && last < oldest.LastActivity))
            {
                oldest = task;
                oldestLive = live;
            }
        }
        if (oldest is not null)
        {
            _tasks.TryRemove(oldest.Digest, out _);
        }
    }
}
