using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Tests.Support;

/// <summary>What the coordinator queued for a session, read without a network stream.</summary>
internal static class SessionOutbound
{
    /// <summary>Takes every message queued for <paramref name="session"/> so far, in order.</summary>
    public static List<SchedulerEvent> Drain(PeerSession session)
    {
        var messages = new List<SchedulerEvent>();
        while (session.Outbound.TryRead(out var message))
        {
            messages.Add(message);
        }
        return messages;
    }
}
