using Dragonfly.PubSub.Broker.Cli;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Tests.Configuration;

/// <summary>
/// Options that only work together (issue 12): --bridge-from (another cluster's announcements) needs
/// --mqtt-url, --bridge-to needs --bridge-from; refused at start with one line, exit 2, before anything is opened. --state alone is fine
/// (the brokers' embedded MQTT servers relay to each other).
/// </summary>
public sealed class OptionCombinationsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-combinations-").FullName;
    private readonly Dictionary<string, string> _environment = [];

    public OptionCombinationsTests()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Resolve_BridgeFrom_FlagBeatsEnvironment_DefaultPort()
    {
        Assert.Empty(Resolve(new BrokerCommandLine()).BridgeFrom);
        Assert.False(Resolve(new BrokerCommandLine()).Bridged);
        _environment["DFBROKER_BRIDGE_FROM"] = "broker-a.example";
        Assert.Equal(["broker-a.example:8002"], Resolve(new BrokerCommandLine()).BridgeFrom);
        Assert.Equal(["10.1.2.3:9002"], Resolve(new BrokerCommandLine { BridgeFrom = "10.1.2.3:9002" }).BridgeFrom);
    }

    [Fact]
    public void Resolve_SeveralBrokersOnEachSide_NamedAsAgentsNameThem()
    {
        _environment["DFBROKER_BRIDGE_TO"] = "b1.example, b2.example:9002";
        var options = Resolve(new BrokerCommandLine { BridgeFrom = "a1.example:8002,[fd00::2],10.0.0.3:7002" });

        Assert.Equal(["a1.example:8002", "[fd00::2]:8002", "10.0.0.3:7002"], options.BridgeFrom);
        Assert.Equal("a1.example:8002,[fd00::2]:8002,10.0.0.3:7002", options.BridgeFromShown);
        Assert.Equal(["b1.example:8002", "b2.example:9002"], options.BridgeTo);
    }

    [Theory]
    [InlineData("a.example:8002,,b.example:99999", "--bridge-from 'b.example:99999' is not HOST[:PORT]")]
    [InlineData(" , ", "--bridge-from ' , ' names no broker")]
    public void Resolve_BadBridgeFromList_IsOneUsageLine(string value, string expected)
    {
        var error = Assert.Throws<UserFacingException>(() => Resolve(new BrokerCommandLine { BridgeFrom = value }));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_BridgeFromNotHostPort_IsOneUsageLineNamingTheFlag()
    {
        var error = Assert.Throws<UserFacingException>(() => Resolve(new BrokerCommandLine { BridgeFrom = "a.example:99999" }));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains("--bridge-from 'a.example:99999' is not HOST[:PORT]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_WithMqttUrl_BothAreFine()
    {
        OptionCombinations.Check(Resolve(new BrokerCommandLine
        {
            State = "redis://127.0.0.1:6379", BridgeFrom = "a.example:8002", MqttUrl = "mqtt://127.0.0.1:1883",
        }));
    }

    [Fact]
    public void Check_StateWithoutMqttUrl_IsFine() =>
        OptionCombinations.Check(Resolve(new BrokerCommandLine { State = "redis://127.0.0.1:6379" }));

    [Theory]
    [InlineData("--bridge-from", "127.0.0.1:8002", "--bridge-from needs --mqtt-url: the MQTT bridge brings the other cluster's announcements")]
    [InlineData("--bridge-to", "127.0.0.1:8002,127.0.0.1:9002", "--bridge-to names where the bridge publishes and needs --bridge-from")]
    public async Task Cli_WithoutMqttUrl_ExitsTwoWithOneLine(string flag, string value, string expected)
    {
        var stderr = new StringWriter();

        var code = await BrokerCli.RunAsync(["--data-dir", _dir, "--insecure", flag, value], TextWriter.Null, stderr, _environment.GetValueOrDefault);

        Assert.Equal(ExitCodes.Usage, code);
        var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one line expected:\n{stderr}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "broker.db")), "nothing should be opened before the combination is refused");
    }

    private BrokerOptions Resolve(BrokerCommandLine flags) => BrokerOptionsResolver.Resolve(flags, _environment.GetValueOrDefault);
}
