using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Diagnostics;

/// <summary>
/// Across clusters: another cluster's announcements bridged in (issue 12, <c>--bridge-from</c>), event ids 1300-1309;
/// several brokers' embedded MQTT servers relaying to each other (<c>--state</c> without <c>--mqtt-url</c>), 1310-1319.
/// </summary>
internal static partial class BrokerLog
{
    [LoggerMessage(1300, LogLevel.Information, "bridge from the cluster at {From}: following {Filter} on {Mqtt}; its member peer {PeerId} fetches from there, its publisher announces here")]
    public static partial void BridgeStarted(ILogger logger, string from, string filter, string mqtt, string peerId);

    [LoggerMessage(1301, LogLevel.Warning, "bridge: the MQTT broker at {Mqtt} is unavailable ({Reason}); retrying")]
    public static partial void BridgeMqttUnavailable(ILogger logger, string mqtt, string reason);

    [LoggerMessage(1302, LogLevel.Warning, "bridge: ignored a message on {MqttTopic}: {Reason}")]
    public static partial void BridgeIgnored(ILogger logger, string mqttTopic, string reason);

    [LoggerMessage(1303, LogLevel.Information, "bridge: {Digest} ({Name}) announced on {Topic} in the cluster at {From}; fetching it from that cluster's swarm")]
    public static partial void BridgeFetching(ILogger logger, string digest, string name, string topic, string from);

    [LoggerMessage(1304, LogLevel.Information, "bridge: imported {Digest} ({Name}, {Size} bytes) from the cluster at {From}: {FromPeers} bytes from its peers, {FromSource} from an origin; announced here as {LocalDigest} on {Topic}")]
    public static partial void BridgeImported(ILogger logger, string digest, string name, long size, string from, long fromPeers, long fromSource, string localDigest, string topic);

    [LoggerMessage(1305, LogLevel.Warning, "bridge: importing {Digest} ({Name}) from the cluster at {From} failed ({Reason}); trying again in {Seconds} s")]
    public static partial void BridgeImportFailed(ILogger logger, string digest, string name, string from, string reason, int seconds);

    [LoggerMessage(1306, LogLevel.Information, "bridge: {Digest} ({Name}) was imported by broker {By} of this cluster (announced here as {LocalDigest}); not importing it again")]
    public static partial void BridgeImportedElsewhere(ILogger logger, string digest, string name, string by, string localDigest);

    [LoggerMessage(1307, LogLevel.Information, "bridge: broker {By} of this cluster is importing {Digest} ({Name}); looking again in {Seconds} s, in case it stops")]
    public static partial void BridgeImportBusy(ILogger logger, string digest, string name, string by, int seconds);

    [LoggerMessage(1308, LogLevel.Warning, "bridge: another broker of this cluster took over the import of {Digest} (this broker's claim lapsed); stopping this one")]
    public static partial void BridgeClaimLost(ILogger logger, string digest);

    // Several brokers on one --state without --mqtt-url: announcements relayed between their embedded MQTT servers (1310-1311).
    [LoggerMessage(1310, LogLevel.Debug, "relayed the announcement on {Topic} from broker {From} into this broker's MQTT server")]
    public static partial void FleetRelayed(ILogger logger, string topic, string from);

    [LoggerMessage(1311, LogLevel.Warning, "could not relay the announcement on {Topic} between the brokers of the fleet ({Reason}); agents subscribed at other brokers get it at their broker's next start")]
    public static partial void FleetRelayFailed(ILogger logger, string topic, string reason);
}
