using System.Collections.Concurrent;
using Dragonfly.PubSub.Broker.Swarm;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// Every agent seen since the broker started: online ones with their session (cluster, zone, version,
/// subscriptions from its Hello; last seen at its latest event), gone ones with when they left. Fed by
/// the first shard (each shard applies every connect, one reports it); bounded to <see cref="MaxOffline"/>
/// gone agents, the longest gone forgotten first.
/// </summary>
internal sealed class FleetRegistry(TimeProvider time, FailureLog failures)
{
    public const int MaxOffline = 10_000;

    private readonly ConcurrentDictionary<string, AgentRecord> _agents = new(StringComparer.Ordinal);
    private int _online;

    public int Online => Volatile.Read(ref _online);

    public int Offline => Math.Max(0, _agents.Count - Online);

    /// <summary><paramref name="session"/> connected (replacing an older session of the same peer, if any).</summary>
    public void Connected(PeerSession session)
    {
        var now = time.GetUtcNow();
        var record = new AgentRecord(session, now);
        if (_agents.TryGetValue(session.PeerId, out var previous) && previous.Session is not null)
        {
            _agents[session.PeerId] = record; // a replaced session: still one online agent
        }
        else
        {
            _agents[session.PeerId] = record;
            Interlocked.Increment(ref _online);
        }
        Export();
    }

    /// <summary><paramref name="session"/> ended (unless a newer session of its peer replaced it).</summary>
    public void Disconnected(PeerSession session)
    {
        var now = time.GetUtcNow();
        if (session.Dropped is { } reason)
        {
            failures.Add("session_dropped", now, "", session.PeerId, "", reason);
        }
        if (!_agents.TryGetValue(session.PeerId, out var record) || !ReferenceEquals(record.Session, session))
        {
            return;
        }
        _agents[session.PeerId] = record with { Session = null, LastSeen = now };
        Interlocked.Decrement(ref _online);
        if (Offline > MaxOffline)
        {
            ForgetLongestGone();
        }
        Export();
    }

    /// <summary>Every agent, online ones first.</summary>
    public IReadOnlyList<AgentRecord> Agents() =>
        [.. _agents.Values.OrderBy(a => a.Session is null).ThenBy(a => a.PeerId, StringComparer.Ordinal)];

    private void ForgetLongestGone()
    {
        var gone = _agents.Values.Where(a => a.Session is null).OrderBy(a => a.LastSeen).Take(Offline - MaxOffline).ToList();
        foreach (var agent in gone)
        {
            ((ICollection<KeyValuePair<string, AgentRecord>>)_agents).Remove(new(agent.PeerId, agent));
        }
    }

    private void Export()
    {
        DashboardMetrics.Agents.WithLabels("online").Set(Online);
        DashboardMetrics.Agents.WithLabels("offline").Set(Offline);
    }
}

/// <summary>One agent as the registry knows it; <see cref="Session"/> is null once it is gone.</summary>
internal sealed record AgentRecord(PeerSession? Session, DateTimeOffset ConnectedAt)
{
    public string PeerId { get; init; } = Session?.PeerId ?? "";
    public string Host { get; init; } = Session?.Host ?? "";
    public string Cluster { get; init; } = Session?.Cluster ?? "";
    public string Zone { get; init; } = Session?.Zone ?? "";
    public string Version { get; init; } = Session?.Version ?? "";
    public bool Seed { get; init; } = Session?.Seed ?? false;
    public IReadOnlyList<string> Subscriptions { get; init; } = Session?.Subscriptions ?? [];

    /// <summary>When it was gone (offline); for an online agent see <see cref="SeenAt"/>.</summary>
    public DateTimeOffset LastSeen { get; init; } = ConnectedAt;

    /// <summary>Its latest event (online), or when it went (offline).</summary>
    public DateTimeOffset SeenAt => Session is { } session && session.LastSeenUnixMs > 0
        ? DateTimeOffset.FromUnixTimeMilliseconds(session.LastSeenUnixMs) : LastSeen;
}
