using Prometheus;

namespace Dragonfly.PubSub.Agent.Announcements;

/// <summary>Metrics of the announcements an agent receives (signed announcements, issue 11).</summary>
public static class AnnouncementMetrics
{
    /// <summary>The reasons, as exported from the start: <c>unsigned</c>, <c>untrusted_signer</c>, <c>bad_signature</c>, <c>stale</c>, <c>invalid</c>.</summary>
    public static readonly IReadOnlyList<string> Reasons = ["unsigned", "untrusted_signer", "bad_signature", "stale", "invalid"];

    public static readonly Counter Rejected = Metrics.CreateCounter(
        "dragonfly_agent_announcements_rejected_total",
        "Announcements the agent did not act on, by reason: unsigned, untrusted_signer, bad_signature (refused: not provably the broker's), stale (a sequence not newer than the last acted on for its output path), invalid (unreadable, or another topic than it arrived on).",
        new CounterConfiguration { LabelNames = ["reason"] });

    /// <summary>The reasons a scheduler's manifest is refused: <c>unsigned</c>, <c>untrusted_signer</c>, <c>bad_signature</c>.</summary>
    public static readonly IReadOnlyList<string> ManifestReasons = ["unsigned", "untrusted_signer", "bad_signature"];

    public static readonly Counter ManifestsRejected = Metrics.CreateCounter(
        "dragonfly_agent_manifests_rejected_total",
        "Content-task manifests from a scheduler the agent refused, by reason: unsigned, untrusted_signer, bad_signature (their piece digests are not provably the ones a broker registered). The task fails; nothing lands.",
        new CounterConfiguration { LabelNames = ["reason"] });

    /// <summary>Exports every reason at 0, so an alert on the series works before the first refusal.</summary>
    public static void ExportAll()
    {
        foreach (var reason in Reasons)
        {
            Rejected.WithLabels(reason).Inc(0);
        }
        foreach (var reason in ManifestReasons)
        {
            ManifestsRejected.WithLabels(reason).Inc(0);
        }
    }
}
