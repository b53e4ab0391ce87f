using System.Diagnostics;
using System.Net;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>
/// Parent sets for one shard: a random sample of the task's members (<see cref="CandidateSampler"/>)
/// plus its publishers and URL source, ranked by <see cref="ParentSelectionPolicy"/>. Keeps each
/// member's parent links both ways (parent → children, so news and departures reach only the children)
/// and the task's hungry set (who still has room for a parent). Runs on the shard's loop only.
/// </summary>
internal sealed class ParentScheduling(
    ParentSelectionPolicy policy,
    CandidateSampler sampler,
    PeerLoad load,
    Func<string, string?> sourceOf,
    ILogger logger,
    Security.PeerTicketIssuer? tickets = null) : ISwarmScheduling
{
    private readonly List<TaskMember> _sample = [];
    private readonly PieceNews _news = new();
    private readonly List<ParentCandidate> _candidates = [];
    // What the sampler's filter compares against, set around each draw: one delegate made once, not a
    // closure per parent set (the loop is single-threaded).
    private TaskMember? _child;
    private TaskMember? _source;
    private SwarmTask? _task;
    private Func<TaskMember, bool>? _acceptDelegate;

    private Func<TaskMember, bool> AcceptFilter => _acceptDelegate ??= Accept;

    /// <summary>A member worth ranking for <see cref="_child"/>: an ordinary peer it may use that holds a piece it lacks.</summary>
    private bool Accept(TaskMember other) =>
        !ReferenceEquals(other, _child)
        && !other.Publisher
        && !ReferenceEquals(other, _source)
        && !_child!.CorruptParents.Contains(other.PeerId)
        && _task!.MayUse(_child, other)
        && ParentSelectionPolicy.UsefulPieces(other.Bitmap, _child.Bitmap) > 0;

    public int ChildrenOf(string peerId) => load.ChildrenOf(peerId);

    /// <param name="arrived">When the NeedParents this answers was read off the agent's stream (Stopwatch ticks; 0: not an answer).</param>
    public void SendParents(SwarmTask task, TaskMember member, ulong requestId = 0, long arrived = 0)
    {
        var started = Stopwatch.GetTimestamp();
        // The source of a URL task is a parent of last resort, like a publisher: peers share first.
        var source = sourceOf(task.Digest);
        var child = new ChildProfile(member.PeerId, member.Bitmap, member.Session.Cluster, member.Session.Zone, member.CorruptParents,
            task.MayCrossClusters(member));
        Collect(task, member, source);
        var choices = policy.Select(child, _candidates);
        _candidates.Clear();

        ReleaseParents(task, member);
        var set = new ParentSet { Digest = task.Digest, RequestId = requestId };
        if (tickets is not null)
        {
            set.Ticket = tickets.For(member, task.Digest);
        }
        foreach (var choice in choices)
        {
            var parent = task.Members[choice.PeerId];
            member.Parents.Add(new ParentLink(parent, choice.LastResort));
            parent.Children.Add(member);
            load.AddChild(choice.PeerId);
            set.Parents.Add(new Parent
            {
                PeerId = choice.PeerId,
                Host = AddressFor(parent.Session, member.Session),
                Port = parent.Session.Port,
                Bitmap = parent.WireBitmap,
                LastResort = choice.LastResort,
            });
        }
        Refresh(task, member);
        BrokerMetrics.ScheduleDuration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        if (logger.IsEnabled(LogLevel.Debug))
        {
            BrokerLog.ParentsAssigned(logger, member.PeerId, task.Digest,
                string.Join(", ", choices.Select(c => c.LastResort ? c.PeerId + " (last resort)" : c.PeerId)));
        }
        if (arrived != 0)
        {
            // Before the answer is queued: the session's writer may take it at once.
            member.Session.AwaitWritten(requestId, arrived);
        }
        if (member.Session.Send(new SchedulerEvent { Parents = set }) && arrived != 0)
        {
            BrokerMetrics.ScheduleQueued.Observe(Stopwatch.GetElapsedTime(arrived).TotalSeconds);
        }
    }

    /// <summary>
    /// The candidates for <paramref name="member"/>: every other member in a small task (as before
    /// sampling existed), else a sample of useful ordinary members plus every publisher and the source.
    /// </summary>
    private void Collect(SwarmTask task, TaskMember member, string? source)
    {
        if (task.Members.Count - 1 <= sampler.SampleSize)
        {
            foreach (var other in task.Members.Values)
            {
                if (!ReferenceEquals(other, member))
                {
                    _candidates.Add(Candidate(other, source));
                }
            }
            return;
        }
        TaskMember? sourceMember = null;
        if (source is not null)
        {
            task.Members.TryGetValue(source, out sourceMember);
        }
        (_task, _child, _source) = (task, member, sourceMember);
        sampler.Sample(task.Slots, AcceptFilter, _sample);
        (_task, _child, _source) = (null, null, null);
        foreach (var other in _sample)
        {
            _candidates.Add(Candidate(other, source));
        }
        _sample.Clear();
        foreach (var publisher in task.Publishers)
        {
            if (!ReferenceEquals(publisher, member))
            {
                _candidates.Add(Candidate(publisher, source));
            }
        }
        if (sourceMember is not null && !sourceMember.Publisher && !ReferenceEquals(sourceMember, member))
        {
            _candidates.Add(Candidate(sourceMember, source));
        }
    }

    private ParentCandidate Candidate(TaskMember other, string? source) => new(
        other.PeerId,
        other.Bitmap,
        other.Publisher || other.PeerId == source,
        other.Session.Cluster,
        other.Session.Zone,
        load.ChildrenOf(other.PeerId),
        other.Session.UploadSlots,
        load.FailuresOf(other.PeerId));

    public void ReleaseParents(SwarmTask task, TaskMember member)
    {
        foreach (var link in member.Parents)
        {
            load.RemoveChild(link.PeerId);
            link.Member.Children.Remove(member);
        }
        member.Parents.Clear();
        Refresh(task, member);
    }

    /// <summary>
    /// Incomplete peers that still have room for parents and lack one of the gained pieces get a fresh
    /// set, so a seed, publisher or resumed peer is used at once. At most MaxParents peers per event
    /// (those with the fewest parents first): one holder can serve only a few children, and recomputing
    /// every parent set of a large swarm on each report would not scale. Only the hungry set is looked
    /// at: in a large swarm nearly everyone has a full set.
    /// </summary>
    public void OfferAsParent(SwarmTask task, TaskMember holder, IReadOnlyList<int> gained)
    {
        if (task.Hungry.Count == 0)
        {
            return;
        }
        var needy = new List<TaskMember>();
        foreach (var other in task.Hungry)
        {
            if (ReferenceEquals(other, holder)
                || other.HasParent(holder)
                || other.CorruptParents.Contains(holder.PeerId)
                || !task.MayUse(other, holder))
            {
                continue;
            }
            foreach (var index in gained)
            {
                if (!other.Bitmap[index])
                {
                    needy.Add(other);
                    break;
                }
            }
        }
        foreach (var other in needy.OrderBy(m => m.OrdinaryParents).ThenBy(m => m.JoinOrder).Take(policy.MaxParents))
        {
            SendParents(task, other);
        }
    }

    public void RelayAvailable(SwarmTask task, TaskMember reporter, IReadOnlyList<int> added)
    {
        if (reporter.Children.Count == 0)
        {
            return;
        }
        // Only the reporter's children can use the news (agents fetch from their parents alone);
        // telling every member would cost O(members) messages per piece, O(N²) per task.
        // And only of pieces they lack ("have suppression", as libtorrent does): a child that reported a
        // piece never fetches it again, so news of it is a message for nothing. Halfway through a
        // download about half the news is of such pieces.
        // Nor to a child that asks the reporter for its piece map itself (both set Hello.parent_piece_maps): it heard
        // of these pieces from the reporter before this report reached the broker.
        var reporterServesMaps = reporter.Session.FollowsParentMaps;
        SchedulerEvent? all = null;
        List<int>? lacking = null;
        foreach (var child in reporter.Children)
        {
            if (child.IsComplete || (reporterServesMaps && child.Session.FollowsParentMaps))
            {
                continue;
            }
            lacking ??= new List<int>(added.Count);
            lacking.Clear();
            foreach (var index in added)
            {
                if (!child.Bitmap[index])
                {
                    lacking.Add(index);
                }
            }
            if (lacking.Count == 0)
            {
                continue;
            }
            if (child.Session.MergesPieceNews)
            {
                _news.Add(child.Session, task.Digest, reporter.PeerId, lacking);
            }
            else if (lacking.Count == added.Count)
            {
                all ??= Available(task, reporter, added); // one message shared by the children
                child.Session.Send(all);
            }
            else
            {
                child.Session.Send(Available(task, reporter, lacking));
            }
        }
    }

    public void FlushNews() => _news.Flush();

    private static SchedulerEvent Available(SwarmTask task, TaskMember reporter, IReadOnlyList<int> indexes) =>
        new() { PieceAvailable = new PieceAvailable { Digest = task.Digest, PeerId = reporter.PeerId, Indexes = { indexes } } };

    /// <summary>Keeps <see cref="SwarmTask.Hungry"/> true to the member's state.</summary>
    private void Refresh(SwarmTask task, TaskMember member)
    {
        if (member.Slot >= 0 && !member.IsComplete && member.OrdinaryParents < policy.MaxParents)
        {
            task.Hungry.Add(member);
        }
        else
        {
            task.Hungry.Remove(member);
        }
    }

    /// <summary>
    /// The address <paramref name="child"/> dials to reach <paramref name="parent"/>. A parent that
    /// reached the broker over loopback runs on the broker's machine (the broker's own seed): a child on
    /// another machine reaches it at the address it reached the broker at.
    /// </summary>
    private static string AddressFor(PeerSession parent, PeerSession child) =>
        IsLoopback(parent.Host) && !IsLoopback(child.Host) && child.BrokerAddress.Length > 0
            ? child.BrokerAddress
            : parent.Host;

    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
}
