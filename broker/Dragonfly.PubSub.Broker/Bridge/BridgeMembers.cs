using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Bridge;

/// <summary>
/// The bridge's two in-process agents (data in &lt;data-dir&gt;/bridge): <see cref="Remote"/> is a member of
/// the other cluster's swarm (its schedulers are <c>--bridge-from</c>), where it fetches each bridged file once;
/// <see cref="Local"/> is a member of this cluster, which publishes that file here and is its first source.
/// Both are ordinary agents (no seed mode, no subscriptions, no HTTP port; a local API socket).
/// </summary>
public sealed class BridgeMembers : IAsyncDisposable
{
    private BridgeMembers(RunningAgent remote, RunningAgent local)
    {
        Remote = remote;
        Local = local;
    }

    public RunningAgent Remote { get; }

    public RunningAgent Local { get; }

    /// <exception cref="UserFacingException">An agent could not start (data dir in use, no port).</exception>
    public static async Task<BridgeMembers> StartAsync(
        BrokerOptions options, int grpcPort, Func<TlsIdentity>? identity, ILoggerFactory logging, CancellationToken cancellationToken)
    {
        var common = BrokerSeed.AgentOptionsFor(options, grpcPort, logging, identity) with { Seed = false, PeerPort = 0 };
        var remote = await StartOneAsync(
            WithBrokers(common, options.BridgeFrom) with { DataDir = Path.Combine(options.DataDir, "bridge", "remote") }, cancellationToken).ConfigureAwait(false);
        try
        {
            // Given --bridge-to, the local member knows every broker here and publishes each file where this cluster's
            // agents look for it (the broker its digest hashes to), which need not be this one.
            var local = await StartOneAsync(
                (options.BridgeTo.Count > 0 ? WithBrokers(common, options.BridgeTo) : common) with { DataDir = Path.Combine(options.DataDir, "bridge", "local") },
                cancellationToken).ConfigureAwait(false);
            return new BridgeMembers(remote, local);
        }
        catch
        {
            await remote.StopAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A member placing its tasks over <paramref name="brokers"/> (<c>HOST:PORT</c> each) as an agent given <c>--broker</c> with them.</summary>
    private static Agent.Configuration.AgentOptions WithBrokers(Agent.Configuration.AgentOptions options, IReadOnlyList<string> brokers) =>
        options with { Broker = brokers[0], Brokers = brokers.Count > 1 ? brokers : [] };

    private static async Task<RunningAgent> StartOneAsync(Agent.Configuration.AgentOptions options, CancellationToken cancellationToken)
    {
        try
        {
            Directory.CreateDirectory(options.DataDir);
            return await AgentHost.StartAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is UserFacingException or IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException($"the bridge's agent in {options.DataDir} did not start: {e.Message.TrimEnd('.')}", ExitCodes.Failed, e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Remote.StopAsync(), Local.StopAsync()).ConfigureAwait(false);
    }
}
