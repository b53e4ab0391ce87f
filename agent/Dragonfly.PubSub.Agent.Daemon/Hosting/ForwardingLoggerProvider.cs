namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>Logs into another factory (the hosting program's, or the agent's own) without owning (disposing) it.</summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory target) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => target.CreateLogger(categoryName);

    public void Dispose()
    {
    }
}
