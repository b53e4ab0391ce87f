using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>
/// Options that only work together (issue 12), checked when dfbroker starts (one line, exit 2): each
/// option on its own is resolved and validated by <see cref="BrokerOptionsResolver"/>.
/// </summary>
public static class OptionCombinations
{
    /// <exception cref="UserFacingException">Usage (exit 2): a combination that cannot work.</exception>
    public static void Check(BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.State is not null && options.MqttUrl is null)
        {
            // Each broker's embedded MQTT server reaches only the agents subscribed to it, so an announcement
            // made at one broker of the fleet would miss the agents of the others.
            throw UserFacingException.Usage(
                "--state needs --mqtt-url: brokers that share state must announce through one MQTT broker (e.g. mqtt://mosquitto.example:1883), "
                + "their embedded MQTT servers do not reach each other's agents (see README 'Several brokers')");
        }
        if (options.BridgeFrom is not null && options.MqttUrl is null)
        {
            throw UserFacingException.Usage(
                "--bridge-from needs --mqtt-url: the MQTT bridge brings the other cluster's announcements into that MQTT broker (see README 'Across clusters')");
        }
    }
}
