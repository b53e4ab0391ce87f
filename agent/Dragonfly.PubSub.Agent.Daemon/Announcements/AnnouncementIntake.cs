using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Agent.Announcements;

/// <summary>
/// What an agent does with an announcement payload, whatever carried it (the MQTT subscriber today):
/// parse it, check that it names the topic it arrived on, check the broker's signature (secure mode),
/// check its sequence number against the last one acted on for its output path, and only then hand it
/// to the task manager and remember its sequence. Name, topic and order come from the signed fields.
/// <para>
/// With --insecure nothing can be verified (no fleet CA to pin the broker's key to): announcements are
/// taken unsigned, still ordered by their sequence number.
/// </para>
/// </summary>
public sealed class AnnouncementIntake(AgentRuntime runtime, TaskManager tasks, AnnouncementSequences sequences, ILogger<AnnouncementIntake> logger)
{
    private readonly Lock _order = new();

    /// <summary>Handles one non-empty payload that arrived on the user topic <paramref name="topic"/>; never throws.</summary>
    public void Accept(string topic, ReadOnlySpan<byte> payload)
    {
        var announcement = Announcement.TryParse(payload, out var error);
        if (announcement is null)
        {
            Refuse(topic, "invalid", error ?? "unreadable");
            return;
        }
        if (topic != announcement.Topic)
        {
            Refuse(topic, "invalid", $"it names topic '{announcement.Topic}'");
            return;
        }
        if (runtime.Identity is { } identity)
        {
            var (verdict, reason) = AnnouncementSignatureCheck.Verify(
                identity.Current, announcement.Signer, announcement.Signature, AnnouncementSigning.BytesToSign(announcement));
            if (verdict != SignatureVerdict.Valid)
            {
                Refuse(topic, AnnouncementSignatureCheck.Label(verdict), $"{announcement.Digest} ({announcement.Name}) {reason}");
                return;
            }
        }
        // One announcement at a time from the check of its sequence to recording it: two deliveries for
        // one output path must not both pass the check.
        lock (_order)
        {
            var last = sequences.Last(announcement.Topic, announcement.Name);
            if (last is { } seen && !IsNewer(announcement, seen))
            {
                AnnouncementMetrics.Rejected.WithLabels("stale").Inc();
                AgentLog.AnnouncementStale(logger, announcement.Digest, announcement.Topic, announcement.Name, announcement.Sequence, seen.Sequence, seen.Digest);
                return;
            }
            try
            {
                tasks.OnAnnouncement(announcement);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Logged and dropped: one bad announcement must not stop the subscription.
                AgentLog.AnnouncementIgnored(logger, topic, e.Message);
                return;
            }
            sequences.Record(announcement.Topic, announcement.Name, announcement.Sequence, announcement.Digest);
        }
    }

    /// <summary>
    /// A higher sequence is a newer version. The same sequence and digest is the same announcement delivered
    /// again (the retained copy after a reconnect, or the broker's replay after its restart): passed on, the
    /// task manager treats it as known. Anything else is older than what this output path already shows.
    /// </summary>
    private static bool IsNewer(Announcement announcement, (long Sequence, string Digest) seen) =>
        announcement.Sequence > seen.Sequence
        || (announcement.Sequence == seen.Sequence && announcement.Digest == seen.Digest);

    private void Refuse(string topic, string reason, string why)
    {
        AnnouncementMetrics.Rejected.WithLabels(reason).Inc();
        AgentLog.AnnouncementRefused(logger, topic, reason, why);
    }
}
