using Dragonfly.PubSub.Broker.Dashboard;

namespace Dragonfly.PubSub.Broker.Http;

/// <summary>
/// <c>GET /api/v1/tasks</c> for the whole fleet: the catalogue is shared already; the other brokers' shares add
/// their members to each task's peers and seeders, and their live URL tasks that no catalogue holds yet.
/// </summary>
internal static class FleetTasks
{
    public static List<TaskSummary> Merge(List<TaskSummary> local, IReadOnlyList<FleetShare> others)
    {
        if (others.Count == 0)
        {
            return local;
        }
        var remote = others.SelectMany(s => s.Tasks).GroupBy(t => t.Digest, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (Members: g.Sum(t => t.Members), Complete: g.Sum(t => t.Complete), Task: g.First()), StringComparer.Ordinal);
        var merged = local.Select(t => remote.TryGetValue(t.Digest, out var r) ? t with { Peers = t.Peers + r.Members, Seeders = t.Seeders + r.Complete } : t).ToList();
        var known = local.Select(t => t.Digest).ToHashSet(StringComparer.Ordinal);
        // A URL task still being sourced on another broker: what its share tells (the piece size is in its manifest there only).
        var unknown = remote.Values.Where(r => !known.Contains(r.Task.Digest)).Select(r => new TaskSummary(
            r.Task.Digest, r.Task.Name, r.Task.Topic, r.Task.Size, 0, r.Task.PieceCount, "", r.Task.CreatedAt, r.Members, r.Complete, r.Task.UrlTask));
        return [.. unknown, .. merged];
    }
}
