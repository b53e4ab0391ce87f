using System.Collections.Concurrent;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>
/// Which broker each task goes to. The owner of a task is the healthy broker (its link answered) that
/// <see cref="RendezvousHash"/> ranks first for the task id; with none healthy, the first of all. Owners are
/// cached until the health of a link changes. A task is <em>placed</em> on the broker its Join went to, where
/// its reports follow it; a rebalance moves it when its owner changed.
/// </summary>
internal sealed class BrokerPlacement(IReadOnlyList<BrokerLink> links)
{
    private readonly ConcurrentDictionary<string, (int Version, BrokerLink Link)> _owners = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, BrokerLink> _placed = new(StringComparer.Ordinal);
    private int _version;

    public IReadOnlyList<BrokerLink> Links => links;

    public bool Several => links.Count > 1;

    /// <summary>The broker <paramref name="task"/> belongs to now.</summary>
    public BrokerLink OwnerOf(string task)
    {
        if (!Several)
        {
            return links[0];
        }
        var version = Volatile.Read(ref _version);
        if (_owners.TryGetValue(task, out var cached) && cached.Version == version)
        {
            return cached.Link;
        }
        var owner = Rank(task, assumeUp: null);
        _owners[task] = (version, owner);
        return owner;
    }

    /// <summary>The owner of <paramref name="task"/> were <paramref name="assumeUp"/> healthy too (a link about to answer).</summary>
    public BrokerLink Rank(string task, BrokerLink? assumeUp)
    {
        var healthy = links.Where(l => l.Connected || ReferenceEquals(l, assumeUp)).ToList();
        return RendezvousHash.Order(healthy.Count > 0 ? healthy : links, l => l.Name, task)[0];
    }

    /// <summary>A link came up or went down: owners are computed afresh.</summary>
    public void HealthChanged() => Interlocked.Increment(ref _version);

    /// <summary>Where the task's Join went, or null.</summary>
    public BrokerLink? PlacedOn(string task) => _placed.TryGetValue(task, out var link) ? link : null;

    /// <summary>The broker a task's messages go to: where it is placed while that link answers, else its owner.</summary>
    public BrokerLink Route(string task) => PlacedOn(task) is { Connected: true } placed ? placed : OwnerOf(task);

    /// <summary>
    /// Where to send a call for <paramref name="task"/>: its route first, then every other broker in the task's
    /// hash order, for when the first cannot be reached (a broker down that this agent has not noticed yet).
    /// </summary>
    public IReadOnlyList<BrokerLink> Candidates(string task)
    {
        var first = Route(task);
        return [first, .. RendezvousHash.Order(links, l => l.Name, task).Where(l => !ReferenceEquals(l, first))];
    }

    public void Place(string task, BrokerLink link)
    {
        if (Several)
        {
            _placed[task] = link;
        }
    }

    public void Forget(string task) => _placed.TryRemove(task, out _);
}
