using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Tests.Configuration;

/// <summary>--mqtt-url / DFBROKER_MQTT_URL / config mqttUrl: an external MQTT 5 broker for announcements.</summary>
public sealed class MqttUrlConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-mqtt-url-").FullName;
    private readonly Dictionary<string, string> _environment = [];

    public MqttUrlConfigTests()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Resolve_MqttUrl_EmbeddedByDefault_FlagBeatsEnvironmentBeatsFile()
    {
        var file = Config("""{ "mqttUrl": "mqtt://file.example:1884" }""");

        Assert.Null(Resolve(new BrokerCommandLine()).MqttUrl);
        Assert.Equal("mqtt://file.example:1884", Resolve(new BrokerCommandLine { ConfigFile = file }).MqttUrl!.Shown);
        _environment["DFBROKER_MQTT_URL"] = "mqtts://env.example";
        Assert.Equal("mqtts://env.example:8883", Resolve(new BrokerCommandLine { ConfigFile = file }).MqttUrl!.Shown);
        Assert.Equal("mqtt://flag.example:1883", Resolve(new BrokerCommandLine { ConfigFile = file, MqttUrl = "mqtt://flag.example" }).MqttUrl!.Shown);
    }

    [Theory]
    [InlineData("http://mosquitto.example:1883", "is not an MQTT URL")]
    [InlineData("mosquitto.example:1883", "is not an MQTT URL")]
    [InlineData("mqtt://mosquitto.example:1883/topic", "has a path or query")]
    public void Resolve_AnUrlThatIsNotMqtt_IsAUsageErrorNamingTheFlag(string url, string problem)
    {
        var error = Assert.Throws<UserFacingException>(() => Resolve(new BrokerCommandLine { MqttUrl = url }));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.StartsWith("--mqtt-url: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MqttUrl_CredentialsAreKeptForTheConnectButNeverShown()
    {
        var url = MqttUrl.TryParse("mqtts://dfbroker:p%40ss@mq.example:9883", out var error);

        Assert.Null(error);
        Assert.Equal(("mq.example", 9883, true, "dfbroker", "p@ss"), (url!.Host, url.Port, url.Tls, url.UserName, url.Password));
        Assert.Equal("mqtts://mq.example:9883", url.Shown);
        Assert.DoesNotContain("p@ss", url.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("dfbroker", url.WithoutCredentials.ToString(), StringComparison.Ordinal);
        MqttUrl.TryParse("ftp://dfbroker:secret@mq.example", out var refused);
        Assert.DoesNotContain("secret", refused, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigFile_ABadMqttUrl_IsOneProblemLine()
    {
        var problems = BrokerConfigFile.Load(Config("""{ "mqttUrl": "tcp://mq.example" }""")).Problems;

        Assert.Equal(["mqttUrl: 'tcp://mq.example' is not an MQTT URL; use mqtt://HOST:PORT or mqtts://HOST:PORT"], problems);
    }

    private BrokerOptions Resolve(BrokerCommandLine flags) => BrokerOptionsResolver.Resolve(flags, _environment.GetValueOrDefault);

    private string Config(string json)
    {
        var path = Path.Combine(_dir, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
