using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>Registers a URL task and, when it has a topic, announces it: what RegisterUrlTask does, for every caller.</summary>
public interface IUrlTaskIntake
{
    Task<UrlTaskOutcome> RegisterAsync(RegisterUrlTaskRequest request, CancellationToken cancellationToken);
}
