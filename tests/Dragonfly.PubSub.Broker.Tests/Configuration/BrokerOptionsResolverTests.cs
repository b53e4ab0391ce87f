using System.Net;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Tests.Configuration;

public sealed class BrokerOptionsResolverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-config-").FullName;
    private readonly Dictionary<string, string> _environment = [];

    private string? Env(string name) => _environment.GetValueOrDefault(name);

    [Fact]
    public void Resolve_WithNothingGiven_UsesDefaults()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;

        var options = BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env);

        Assert.Equal((_dir, IPAddress.Any, 1883, 8002, 8080, 16), (options.DataDir, options.Listen, options.MqttPort, options.GrpcPort, options.HttpPort, options.MaxParents));
    }

    [Fact]
    public void AnnounceManifestMax_IsAbout64KiB_TheEnvironmentBeatsTheFile_AndOutOfRangeIsAUsageError()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;
        Assert.Equal(65536, BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env).AnnounceManifestMax);

        var file = Path.Combine(_dir, "inline.json");
        File.WriteAllText(file, """{ "announceManifestMax": 1000 }""");
        Assert.Equal(1000, BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env).AnnounceManifestMax);
        _environment["DFBROKER_ANNOUNCE_MANIFEST_MAX"] = "0";
        Assert.Equal(0, BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env).AnnounceManifestMax);

        _environment["DFBROKER_ANNOUNCE_MANIFEST_MAX"] = "2000000";
        var fromEnvironment = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env));
        Assert.Equal(ExitCodes.Usage, fromEnvironment.ExitCode);
        _environment.Remove("DFBROKER_ANNOUNCE_MANIFEST_MAX");
        File.WriteAllText(file, """{ "announceManifestMax": -1 }""");
        var fromFile = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env));
        Assert.Contains("announceManifestMax", fromFile.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SeedUploadLimit_IsOffByDefault_FlagBeatsEnvironmentBeatsFile_AndANonRateIsAUsageErrorNamingItsSource()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;
        Assert.Equal(0, BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env).SeedUploadLimit);

        var file = Path.Combine(_dir, "seed-limit.json");
        File.WriteAllText(file, """{ "seedUploadLimit": "10MiB" }""");
        Assert.Equal(10L << 20, BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env).SeedUploadLimit);
        _environment["DFBROKER_SEED_UPLOAD_LIMIT"] = "11MiB";
        Assert.Equal(11L << 20, BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env).SeedUploadLimit);
        Assert.Equal(12L << 20, BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file, SeedUploadLimit = "12MiB" }, Env).SeedUploadLimit);

        _environment["DFBROKER_SEED_UPLOAD_LIMIT"] = "fast";
        var bad = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env));
        Assert.Equal(ExitCodes.Usage, bad.ExitCode);
        Assert.Equal("DFBROKER_SEED_UPLOAD_LIMIT 'fast' is not a rate; write e.g. 20MiB (per second)", bad.Message);
        _environment.Remove("DFBROKER_SEED_UPLOAD_LIMIT");

        File.WriteAllText(file, """{ "seedUploadLimit": "lots" }""");
        var fromFile = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env));
        Assert.Contains("seedUploadLimit: 'lots' is not a rate", fromFile.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AllowOrigin_FromFlagsEnvironmentOrFile_OpensOnlyWhatItNames_AndABadOneIsAUsageError()
    {
        var loopback = System.Net.IPAddress.Loopback;
        Assert.NotNull(BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env).Egress.Refusal("localhost", loopback));

        var flagged = BrokerOptionsResolver.Resolve(new BrokerCommandLine { AllowOrigins = ["127.0.0.1", "10.213.0.0/16"] }, Env);
        Assert.Null(flagged.Egress.Refusal("localhost", loopback));
        Assert.Null(flagged.Egress.Refusal("node", System.Net.IPAddress.Parse("10.213.0.7")));
        Assert.NotNull(flagged.Egress.Refusal("metadata", System.Net.IPAddress.Parse("169.254.169.254")));

        _environment["DFBROKER_ALLOW_ORIGINS"] = "registry.internal, 127.0.0.0/8";
        Assert.Null(BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env).Egress.Refusal("registry.internal", System.Net.IPAddress.Parse("192.168.1.1")));
        _environment.Remove("DFBROKER_ALLOW_ORIGINS");

        var file = Path.Combine(_dir, "allow.json");
        File.WriteAllText(file, """{"allowOrigins": ["127.0.0.1"]}""");
        Assert.Null(BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env).Egress.Refusal("localhost", loopback));

        var bad = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(new BrokerCommandLine { AllowOrigins = ["10.0.0.1/8"] }, Env));
        Assert.Equal(ExitCodes.Usage, bad.ExitCode);
        Assert.Contains("is not a CIDR", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_FlagsBeatEnvironment_WhichBeatsTheFile()
    {
        var file = Path.Combine(_dir, "broker.json");
        File.WriteAllText(file, """{ "dataDir": "/from/file", "mqttPort": 1, "grpcPort": 2, "httpPort": 3, "listen": "10.0.0.1", "maxParents": 3 }""");
        _environment["DFBROKER_GRPC_PORT"] = "20";
        _environment["DFBROKER_HTTP_PORT"] = "30";
        _environment["DFBROKER_LISTEN"] = "127.0.0.1";

        var options = BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file, HttpPort = 300 }, Env);

        Assert.Equal(("/from/file", 1, 20, 300, 3), (options.DataDir, options.MqttPort, options.GrpcPort, options.HttpPort, options.MaxParents));
        Assert.Equal(IPAddress.Loopback, options.Listen);
    }

    [Fact]
    public void Resolve_WhenEnvironmentPortIsNotANumber_IsAUsageError()
    {
        _environment["DFBROKER_MQTT_PORT"] = "lots";

        var error = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(new BrokerCommandLine { DataDir = _dir }, Env));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains("DFBROKER_MQTT_PORT", error.Message);
    }

    [Fact]
    public void Validate_ReportsEveryProblemOnItsOwnLine()
    {
        var file = Path.Combine(_dir, "bad.json");
        File.WriteAllText(file, """{ "mqttPort": 70000, "listen": "nowhere", "colour": "red", "httpPort": "x" }""");

        var (_, problems) = BrokerConfigFile.Load(file);

        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("colour:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("mqttPort:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("listen:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("httpPort:", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_AcceptsAGoodFile()
    {
        var file = Path.Combine(_dir, "good.json");
        File.WriteAllText(file, """{ "mqttPort": 0, "listen": "0.0.0.0", "maxParents": 4, "seed": true, "seedPort": 0, "s3Region": "us-east-1" }""");

        Assert.Empty(BrokerConfigFile.Load(file).Problems);
    }

    [Fact]
    public void Resolve_Seed_IsOnByDefaultOnPort8003_AndTurnedOffByTheFlagOrTheFile()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;
        var file = Path.Combine(_dir, "broker.json");
        File.WriteAllText(file, """{ "seed": false, "seedPort": 9100 }""");

        var defaults = BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env);
        var flagged = BrokerOptionsResolver.Resolve(new BrokerCommandLine { NoSeed = true, SeedPort = 0 }, Env);
        var fromFile = BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env);

        Assert.Equal((true, 8003), (defaults.Seed, defaults.SeedPort));
        Assert.Equal(Path.Combine(_dir, "seed"), defaults.SeedDataDir);
        Assert.Equal((false, 0), (flagged.Seed, flagged.SeedPort));
        Assert.Equal((false, 9100), (fromFile.Seed, fromFile.SeedPort));
    }

    [Fact]
    public void Resolve_S3_TakesTheFileOverTheAwsEnvironment()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;
        _environment["AWS_ACCESS_KEY_ID"] = "env-key";
        _environment["AWS_SECRET_ACCESS_KEY"] = "env-secret";
        _environment["AWS_REGION"] = "eu-west-1";
        var file = Path.Combine(_dir, "broker.json");
        File.WriteAllText(file, """{ "s3Endpoint": "http://127.0.0.1:9000", "s3AccessKey": "file-key", "s3SecretKey": "file-secret" }""");

        var fromEnvironment = BrokerOptionsResolver.Resolve(new BrokerCommandLine(), Env).S3;
        var fromFile = BrokerOptionsResolver.Resolve(new BrokerCommandLine { ConfigFile = file }, Env).S3;

        Assert.Equal((null, "env-key", "env-secret", "eu-west-1", false),
            (fromEnvironment.Endpoint, fromEnvironment.AccessKeyId, fromEnvironment.SecretAccessKey, fromEnvironment.Region, fromEnvironment.ForcePathStyle));
        Assert.Equal((new Uri("http://127.0.0.1:9000"), "file-key", "file-secret", "eu-west-1", true),
            (fromFile.Endpoint, fromFile.AccessKeyId, fromFile.SecretAccessKey, fromFile.Region, fromFile.ForcePathStyle));
        Assert.DoesNotContain("file-secret", new Dragonfly.PubSub.Broker.Configuration.BrokerOptions { DataDir = _dir, S3 = fromFile }.ToString());
    }

    [Fact]
    public void Validate_ChecksTheSeedAndS3Keys()
    {
        var file = Path.Combine(_dir, "bad.json");
        File.WriteAllText(file, """{ "seed": "no", "seedPort": -1, "s3Endpoint": "ftp://x", "s3AccessKey": "k" }""");

        var (_, problems) = BrokerConfigFile.Load(file);

        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("seed:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("seedPort:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("s3Endpoint:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("s3AccessKey and s3SecretKey", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
