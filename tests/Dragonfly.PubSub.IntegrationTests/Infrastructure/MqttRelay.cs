using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// A Mosquitto beside the broker: another MQTT path to the agents (as an external MQTT broker would be),
/// on which the test can publish anything, e.g. a captured announcement replayed later. In secure mode it
/// speaks TLS 1.3 with a certificate of the fleet CA and requires client certificates from it, so agents
/// connect to it as to the broker's own MQTT; what makes a payload count is its signature, not the path.
/// </summary>
public sealed class MqttRelay
{
    private MqttRelay(int port, string dir)
    {
        Port = port;
        Dir = dir;
    }

    public int Port { get; }

    public string Dir { get; }

    /// <summary>The ports an agent is given to use this relay for MQTT and <paramref name="broker"/> for the rest.</summary>
    public BrokerPorts PortsFor(BrokerProcess broker) => broker.Ports with { Mqtt = Port };

    public static async Task<MqttRelay> StartAsync(TestCluster cluster, BrokerProcess broker)
    {
        var dir = Path.Combine(cluster.Root, "mqtt-relay");
        Directory.CreateDirectory(dir);
        var port = TestCluster.ClosedPort();
        var config = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"listener {port} 127.0.0.1")
            .AppendLine("allow_anonymous true")
            .AppendLine("persistence false")
            .AppendLine("set_tcp_nodelay true")
            // Run as root (CI), Mosquitto would switch to the user 'mosquitto', who cannot read the 0600 key.
            .AppendLine(CultureInfo.InvariantCulture, $"user {Environment.UserName}");
        if (!TlsMode.Insecure)
        {
            var tls = Path.Combine(broker.DataDir, TlsFiles.DirectoryName);
            using var ca = FleetCa.Load(Path.Combine(tls, TlsFiles.CaCertificate), Path.Combine(tls, TlsFiles.CaKey));
            using var certificate = ca.IssueWithNewKey(new PeerIdentity("mqtt-relay", PeerRole.Agent, []), TimeSpan.FromDays(1), ["localhost"], [IPAddress.Loopback]);
            TlsFiles.WriteCertificateAndKey(certificate, Path.Combine(dir, "relay.crt"), Path.Combine(dir, "relay.key"));
            config.AppendLine(CultureInfo.InvariantCulture, $"cafile {broker.CaFile}")
                .AppendLine(CultureInfo.InvariantCulture, $"certfile {Path.Combine(dir, "relay.crt")}")
                .AppendLine(CultureInfo.InvariantCulture, $"keyfile {Path.Combine(dir, "relay.key")}")
                .AppendLine("require_certificate true")
                .AppendLine("tls_version tlsv1.3");
        }
        var configFile = Path.Combine(dir, "mosquitto.conf");
        await File.WriteAllTextAsync(configFile, config.ToString());
        var process = cluster.Launcher.Start("mqtt-relay", "/usr/sbin/mosquitto", ["-c", configFile]);
        await Wait.UntilAsync($"mosquitto to listen on 127.0.0.1:{port}", TimeSpan.FromSeconds(15), async () =>
        {
            if (process.HasExited)
            {
                throw new Xunit.Sdk.XunitException($"mosquitto exited with {process.ExitCode}:\n{process.Tail(20)}");
            }
            using var client = new TcpClient();
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        });
        cluster.Log($"MQTT relay (mosquitto) on 127.0.0.1:{port}{(TlsMode.Insecure ? "" : " with TLS")}");
        return new MqttRelay(port, dir);
    }

    /// <summary>Publishes <paramref name="payload"/> retained (QoS 1) on <paramref name="mqttTopic"/> of this relay.</summary>
    public async Task PublishRetainedAsync(TestCluster cluster, BrokerProcess broker, string mqttTopic, string payload)
    {
        var result = await Cli.RunAsync("/usr/bin/mosquitto_pub",
            [.. ConnectArgs(broker, Port), "-V", "mqttv5", "-q", "1", "-r", "-t", mqttTopic, "-m", payload], TimeSpan.FromSeconds(30));
        cluster.Log($"relay: published {payload.Length} bytes on {mqttTopic} -> exit {result.ExitCode}");
        Assert.True(result.ExitCode == 0, $"mosquitto_pub to the relay failed:\n{result}");
    }

    /// <summary>
    /// The payload the broker's own MQTT retains on <paramref name="mqttTopic"/> (what any subscriber could capture),
    /// once it announces <paramref name="digest"/>: the retained copy is updated a moment after dfpub returns.
    /// </summary>
    public static async Task<string> RetainedAtBrokerAsync(BrokerProcess broker, string mqttTopic, string digest)
    {
        CliResult? last = null;
        await Wait.UntilAsync($"the broker to retain the announcement of {digest} on {mqttTopic}", TimeSpan.FromSeconds(30), async () =>
        {
            last = await Cli.RunAsync("/usr/bin/mosquitto_sub",
                [.. ConnectArgs(broker, broker.Ports.Mqtt), "-V", "mqttv5", "-t", mqttTopic, "-C", "1", "-W", "10"], TimeSpan.FromSeconds(30));
            return last.ExitCode == 0 && last.Stdout.Contains(digest, StringComparison.Ordinal);
        }, describe: () => last?.ToString() ?? "nothing");
        return last!.Stdout.Trim();
    }

    /// <summary>Host and port, and in secure mode the test's admin identity (its client id must be its peer id).</summary>
    private static IReadOnlyList<string> ConnectArgs(BrokerProcess broker, int port) =>
        TlsMode.Insecure
            ? ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture)]
            : ["-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), .. broker.Fleet!.MosquittoArgs];
}
