using System.Threading.Channels;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// What happens to URL tasks, from the <see cref="SwarmCoordinator"/> (the only writer, on its loop) to
/// one reader (the preheat jobs): a source was assigned, the task is sourced, it failed.
/// </summary>
public sealed class UrlTaskNews
{
    // Not SingleReader: that channel cannot tell its Count (the backlog is worth seeing).
    private readonly Channel<UrlTaskUpdate> _updates = Channel.CreateUnbounded<UrlTaskUpdate>();

    public ChannelReader<UrlTaskUpdate> Reader => _updates.Reader;

    internal void Publish(UrlTaskUpdate update) => _updates.Writer.TryWrite(update);
}
