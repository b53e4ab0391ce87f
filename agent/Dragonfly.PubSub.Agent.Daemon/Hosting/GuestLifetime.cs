namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>A host lifetime that leaves the process's signals alone: only StopAsync ends the host.</summary>
internal sealed class GuestLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
