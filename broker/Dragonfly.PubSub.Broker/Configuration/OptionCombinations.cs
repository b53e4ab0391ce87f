using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>
/// Options that only work together (issue 12), checked when dfbroker starts (one line, exit 2): each
/// option on its own is resolved and validated by <see cref="BrokerOptionsResolver"/>. (<c>--state</c> without
/// <c>--mqtt-url</c> works: the brokers' embedded MQTT servers relay to each other, <see cref="Announcing.FleetRelayTransport"/>.)
/// </summary>
public static class OptionCombinations
{
    /// <exception cref="UserFacingException">Usage (exit 2): a combination that cannot work.</exception>
    public static void Check(BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Bridged && options.MqttUrl is null)
        {
            throw UserFacingException.Usage(
                "--bridge-from needs --mqtt-url: the MQTT bridge brings the other cluster's announcements into that MQTT broker (see README 'Across clusters')");
        }
        if (options.BridgeTo.Count > 0 && !options.Bridged)
        {
            throw UserFacingException.Usage(
                "--bridge-to names where the bridge publishes and needs --bridge-from, the other cluster's brokers (see README 'Across clusters')");
        }
    }
}
