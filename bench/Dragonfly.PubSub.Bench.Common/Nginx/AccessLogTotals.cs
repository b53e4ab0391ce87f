namespace Dragonfly.PubSub.Bench.Common.Nginx;

/// <summary>What an origin served in a stretch of its access log.</summary>
public sealed record AccessLogTotals(IReadOnlyList<AccessLogEntry> Requests)
{
    public long BodyBytes => Requests.Sum(r => r.BodyBytes);

    public int Count(string method) => Requests.Count(r => r.Method == method);

    public int RangedGets => Requests.Count(r => r.Method == "GET" && r.Range is not null);

    /// <summary>Body bytes per client address, largest first.</summary>
    public IReadOnlyList<(string Client, long BodyBytes, int Requests)> ByClient =>
        Requests.GroupBy(r => r.Client)
            .Select(g => (g.Key, g.Sum(r => r.BodyBytes), g.Count()))
            .OrderByDescending(c => c.Item2)
            .ToArray();
}
