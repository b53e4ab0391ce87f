using System.Threading.Channels;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// After dfbroker's connection to the external MQTT broker (<c>--mqtt-url</c>) comes back, publishes the
/// latest announcement of every topic again (with its original sequence number, so agents take it for the
/// same one) and, in secure mode, the revocation list. An MQTT broker that was restarted may have lost its
/// retained messages (Mosquitto saves them only every <c>autosave_interval</c>, 30 min by default, and at a
/// clean exit): an agent that subscribes for the first time afterwards must still find each topic's latest
/// version. The same as the embedded server's replay at dfbroker's start.
/// </summary>
public sealed class ExternalMqttReplay(
    ExternalMqttTransport transport, AnnouncementPublisher announcer, ManifestCatalogue catalogue, RevocationEnforcer? revocations,
    ILogger<ExternalMqttReplay> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Reconnections that come while a replay runs fold into one more replay after it.
        var pending = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        void OnReconnected() => pending.Writer.TryWrite(true);
        transport.Reconnected += OnReconnected;
        try
        {
            await foreach (var _ in pending.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    var count = await announcer.ReplayAsync(catalogue, stoppingToken).ConfigureAwait(false);
                    if (revocations is not null)
                    {
                        await revocations.PublishListAsync(stoppingToken).ConfigureAwait(false);
                    }
                    BrokerLog.ExternalMqttReplayed(logger, transport.Shown, count);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Shared state unreachable, or the connection dropped again (then another replay follows).
                    BrokerLog.ExternalMqttReplayFailed(logger, transport.Shown, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            transport.Reconnected -= OnReconnected;
        }
    }
}
