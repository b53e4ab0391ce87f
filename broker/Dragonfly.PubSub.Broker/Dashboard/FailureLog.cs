namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// Failures the broker saw, by kind (counted since the start) and the latest few in full. Thread-safe:
/// every shard and the scheduler sessions write here.
/// </summary>
internal sealed class FailureLog
{
    /// <summary>The kinds, listed (at 0) from the start: a piece that did not match its digest, a parent that could not be
    /// reached or did not have the piece, a URL task's source that gave up (and may be replaced) or failed the task for
    /// good, a join the broker refused, a session the broker ended because it flooded or read too slowly.</summary>
    public static readonly IReadOnlyList<string> Kinds =
        ["piece_corrupt", "piece_unreachable", "piece_missing", "source_failed", "task_failed", "join_refused", "session_dropped"];

    /// <summary>Failures kept in full, newest first.</summary>
    public const int Recent = 50;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _counts = Kinds.ToDictionary(k => k, _ => 0L, StringComparer.Ordinal);
    private readonly LinkedList<FailureView> _recent = new();

    public void Add(string kind, DateTimeOffset at, string task, string peer, string parent, string detail)
    {
        DashboardMetrics.Failures.WithLabels(kind).Inc();
        lock (_gate)
        {
            _counts[kind] = _counts.GetValueOrDefault(kind) + 1;
            _recent.AddFirst(new FailureView(at, kind, task, peer, parent, detail));
            if (_recent.Count > Recent)
            {
                _recent.RemoveLast();
            }
        }
    }

    public FailuresView View()
    {
        lock (_gate)
        {
            return new FailuresView(new Dictionary<string, long>(_counts, StringComparer.Ordinal), [.. _recent]);
        }
    }
}
