using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Tests.Configuration;

public sealed class TlsConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-tlsconfig-").FullName;
    private readonly Dictionary<string, string> _environment = [];

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Resolve_WithNothingGiven_IsSecure_WithTheBuiltInCa()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;

        var options = BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env);

        Assert.False(options.Tls.Insecure);
        Assert.True(options.Tls.BuiltInCa);
        Assert.Equal((8883, TimeSpan.FromHours(24), "default"), (options.MqttsPort, options.Tls.CertTtl, options.Tls.Ciphers.Name));
    }

    [Fact]
    public void Resolve_FlagsBeatEnvironment_WhichBeatsTheFile()
    {
        var file = Path.Combine(_dir, "broker.json");
        File.WriteAllText(file, """{ "dataDir": "/d", "certTtl": "7d", "tlsCiphers": "aes-256-gcm", "mqttsPort": 1, "tlsSans": ["broker.example", "10.0.0.5"] }""");
        _environment["DFBROKER_TLS_CIPHERS"] = "chacha20-poly1305";
        _environment["DFBROKER_MQTTS_PORT"] = "2";

        var options = BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file, MqttsPort = 3, CertTtl = "90m" }, Env);

        Assert.Equal((3, TimeSpan.FromMinutes(90), "chacha20-poly1305"), (options.MqttsPort, options.Tls.CertTtl, options.Tls.Ciphers.Name));
        Assert.Equal(["broker.example", "10.0.0.5"], options.Tls.ExtraNames);
    }

    [Fact]
    public void Resolve_InsecureFromTheEnvironment()
    {
        _environment["DFBROKER_INSECURE"] = "1";

        Assert.True(BrokerOptionsResolver.Resolve(new BrokerCommandLine { DataDir = _dir }, Env).Tls.Insecure);
    }

    [Theory]
    [InlineData("--tls-cert and --tls-key: give both (the server certificate and its private key) or neither", null, "c.pem", null, null)]
    [InlineData("--tls-cert needs --tls-ca: the CA that issued it, which clients' certificates must chain to as well", null, "c.pem", "k.pem", null)]
    [InlineData("--tls-ca-key needs --tls-ca: the CA certificate that key belongs to", null, null, null, "ca.key")]
    public void Resolve_IncompleteTlsFiles_IsAUsageError(string message, string? ca, string? cert, string? key, string? caKey)
    {
        var e = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(
            new BrokerCommandLine { DataDir = _dir, TlsCa = ca, TlsCert = cert, TlsKey = key, TlsCaKey = caKey }, Env));

        Assert.Equal((ExitCodes.Usage, message), (e.ExitCode, e.Message));
    }

    [Fact]
    public void Resolve_InsecureWithTlsFiles_IsAUsageError()
    {
        var e = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(new BrokerCommandLine { DataDir = _dir, Insecure = true, TlsCa = "ca.pem" }, Env));

        Assert.Equal("--insecure turns TLS off, yet --tls-ca is given; drop one of them", e.Message);
    }

    [Fact]
    public void ConfigFile_BadTlsValues_AreOneLineEach()
    {
        var file = Path.Combine(_dir, "bad.json");
        File.WriteAllText(file, """{ "certTtl": "soon", "tlsCiphers": "rc4", "tlsSans": ["not a name"], "mqttsPort": 70000, "insecure": "yes" }""");

        var (_, problems) = BrokerConfigFile.Load(file);

        Assert.Equal(
            [
                "insecure: must be true or false",
                "mqttsPort: 70000 is not a port; use 0 (pick a free one) to 65535",
                "tlsSans 'not a name' is neither a DNS name nor an IP address",
                "certTtl 'soon' is not a duration; write e.g. 24h, 90m or 7d",
                "tlsCiphers: unknown TLS cipher 'rc4'; choose aes-128-gcm|aes-256-gcm|chacha20-poly1305|default (or a comma-separated list)",
            ],
            problems);
    }

    private string? Env(string name) => _environment.GetValueOrDefault(name);
}
