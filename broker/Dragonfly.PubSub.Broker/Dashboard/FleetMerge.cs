namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// Merges the other brokers' shares into this broker's view, so that any broker's dashboard and API show the
/// whole fleet. An agent connected to several brokers is one agent (by peer id: online if any says so, the
/// latest "last seen"); a task's members are the sum over the brokers (each task lives on one broker, so its
/// members are not counted twice in the normal case); its progress is the members' weighted average.
/// </summary>
internal static class FleetMerge
{
    public static DashboardView Merge(DashboardView local, IReadOnlyList<FleetShare> others)
    {
        if (others.Count == 0)
        {
            return local;
        }
        return local with
        {
            Fleet = Fleet(local.Fleet, others),
            Tasks = Tasks(local.Tasks, others),
            Topics = Topics(local.Topics, others),
        };
    }

    public static FleetView Fleet(FleetView local, IReadOnlyList<FleetShare> others)
    {
        var byId = new Dictionary<string, AgentView>(StringComparer.Ordinal);
        foreach (var agent in local.Agents.Concat(others.SelectMany(s => s.Agents)))
        {
            byId[agent.PeerId] = byId.TryGetValue(agent.PeerId, out var known) ? Combine(known, agent) : agent;
        }
        var agents = byId.Values.OrderByDescending(a => a.Online).ThenBy(a => a.PeerId, StringComparer.Ordinal).ToList();
        var listed = agents.Take(DashboardBuilder.MaxAgents).ToList();
        var groups = agents
            .GroupBy(a => (a.Cluster, a.Zone))
            .OrderBy(g => g.Key.Cluster, StringComparer.Ordinal).ThenBy(g => g.Key.Zone, StringComparer.Ordinal)
            .Select(g => new FleetGroupView(g.Key.Cluster, g.Key.Zone, g.Count(a => a.Online), g.Count(a => !a.Online),
                g.Where(a => a.Online).GroupBy(a => a.Version.Length == 0 ? "unknown" : a.Version)
                    .OrderBy(v => v.Key, StringComparer.Ordinal).ToDictionary(v => v.Key, v => v.Count(), StringComparer.Ordinal)))
            .ToList();
        // Exact while every local agent is listed; past the listing cap the local counts are a lower bound.
        var online = local.Unlisted == 0 ? agents.Count(a => a.Online) : Math.Max(local.Online, agents.Count(a => a.Online));
        var offline = local.Unlisted == 0 ? agents.Count(a => !a.Online) : Math.Max(local.Offline, agents.Count(a => !a.Online));
        return new FleetView(online, offline, groups, listed, Math.Max(0, online + offline - listed.Count));
    }

    public static IReadOnlyList<TaskView> Tasks(IReadOnlyList<TaskView> local, IReadOnlyList<FleetShare> others)
    {
        var merged = local.ToDictionary(t => t.Digest, StringComparer.Ordinal);
        var order = local.Select(t => t.Digest).ToList();
        foreach (var task in others.SelectMany(s => s.Tasks))
        {
            if (merged.TryGetValue(task.Digest, out var known))
            {
                merged[task.Digest] = Add(known, task);
            }
            else
            {
                merged[task.Digest] = task;
                order.Add(task.Digest);
            }
        }
        return [.. order.Select(d => merged[d]).OrderByDescending(t => t.Live).Take(DashboardBuilder.MaxTasks)];
    }

    /// <summary>Subscribers of a topic: the agents of the merged fleet whose subscriptions cover it.</summary>
    private static IReadOnlyList<TopicView> Topics(IReadOnlyList<TopicView> local, IReadOnlyList<FleetShare> others)
    {
        var remote = others.SelectMany(s => s.Agents).Where(a => a.Online && a.Subscriptions.Count > 0).ToList();
        return [.. local.Select(topic =>
        {
            var ids = topic.SubscriberIds.ToHashSet(StringComparer.Ordinal);
            var extra = remote.Where(a => !ids.Contains(a.PeerId) && a.Subscriptions.Any(f => Security.TopicGrants.Covers(f, topic.Topic)))
                .Select(a => a.PeerId).Distinct(StringComparer.Ordinal).ToList();
            return extra.Count == 0 ? topic : topic with
            {
                Subscribers = topic.Subscribers + extra.Count,
                SubscriberIds = [.. topic.SubscriberIds.Concat(extra).Take(DashboardBuilder.MaxSubscriberIds)],
            };
        })];
    }

    private static AgentView Combine(AgentView a, AgentView b) => a with
    {
        Online = a.Online || b.Online,
        ConnectedAt = a.ConnectedAt < b.ConnectedAt ? a.ConnectedAt : b.ConnectedAt,
        LastSeen = a.LastSeen > b.LastSeen ? a.LastSeen : b.LastSeen,
        Tasks = a.Tasks + b.Tasks,
    };

    private static TaskView Add(TaskView a, TaskView b)
    {
        var members = a.Members + b.Members;
        return a with
        {
            Live = a.Live || b.Live,
            Members = members,
            Complete = a.Complete + b.Complete,
            Progress = members == 0 ? Math.Max(a.Progress, b.Progress) : (a.Progress * a.Members + b.Progress * b.Members) / members,
            BytesPerSecond = a.BytesPerSecond + b.BytesPerSecond,
            DeliveredBytes = a.DeliveredBytes + b.DeliveredBytes,
            OriginBytes = a.OriginBytes + b.OriginBytes,
            SavedBytes = a.SavedBytes + b.SavedBytes,
            Failures = a.Failures + b.Failures,
        };
    }
}
