using Dragonfly.PubSub.Broker.Cli;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Tests.Configuration;

/// <summary>fileOriginRoots / --file-origin-root / DFBROKER_FILE_ORIGIN_ROOTS and the registry logins.</summary>
public sealed class FileRootsAndRegistriesConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-config-").FullName;
    private readonly Dictionary<string, string> _environment = [];

    public FileRootsAndRegistriesConfigTests()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Resolve_FileOriginRoots_NoneByDefault_FlagsBeatTheEnvironmentWhichBeatsTheFile()
    {
        var (a, b, c) = (Sub("a"), Sub("b"), Sub("c"));
        var file = Config($$"""{ "fileOriginRoots": ["{{c}}"] }""");

        Assert.Empty(Resolve(new BrokerCommandLine()).FileOriginRoots);
        Assert.Equal([c], Resolve(new BrokerCommandLine { ConfigFile = file }).FileOriginRoots);
        _environment["DFBROKER_FILE_ORIGIN_ROOTS"] = $"{b}{Path.PathSeparator}{a}";
        Assert.Equal([b, a], Resolve(new BrokerCommandLine { ConfigFile = file }).FileOriginRoots);
        Assert.Equal([a, c], Resolve(new BrokerCommandLine { ConfigFile = file, FileOriginRoots = [a, c] }).FileOriginRoots);
    }

    [Fact]
    public void Resolve_AFileOriginRootThatIsNotADirectory_IsAUsageError()
    {
        var error = Assert.Throws<UserFacingException>(() => Resolve(new BrokerCommandLine { FileOriginRoots = [Path.Combine(_dir, "missing")] }));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.Contains("--file-origin-root", error.Message);
        Assert.Contains("is not a directory", error.Message);
    }

    [Fact]
    public async Task Cli_TakesTheFileOriginRootFlagMoreThanOnce()
    {
        // An unknown flag would be a usage error before the broker starts; a missing root is one after parsing.
        var stderr = new StringWriter();

        var code = await BrokerCli.RunAsync(["--data-dir", _dir, "--file-origin-root", Sub("x"), "--file-origin-root", Path.Combine(_dir, "nope")],
            TextWriter.Null, stderr, _environment.GetValueOrDefault);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains("--file-origin-root", stderr.ToString());
        Assert.Contains("nope' is not a directory", stderr.ToString());
    }

    [Fact]
    public void Resolve_Registries_PerRegistryFromTheFile_TheEnvironmentForEveryOther()
    {
        var file = Config("""{ "registries": { "127.0.0.1:5000": { "username": "alice", "password": "s3cret" } } }""");
        _environment["DFBROKER_REGISTRY_USERNAME"] = "bob";
        _environment["DFBROKER_REGISTRY_PASSWORD"] = "hunter2";

        var options = Resolve(new BrokerCommandLine { ConfigFile = file });

        Assert.Equal(new RegistryLogin("alice", "s3cret"), options.Registries.For("127.0.0.1:5000"));
        Assert.Equal(new RegistryLogin("bob", "hunter2"), options.Registries.For("registry.example.com"));
        Assert.DoesNotContain("s3cret", options.ToString());
        Assert.DoesNotContain("hunter2", options.ToString());
        Assert.DoesNotContain("s3cret", options.Registries.For("127.0.0.1:5000")!.ToString());
    }

    [Fact]
    public void Resolve_WithoutLogins_IsAnonymous_AndHalfALoginIsAUsageError()
    {
        Assert.Null(Resolve(new BrokerCommandLine()).Registries.For("127.0.0.1:5000"));

        _environment["DFBROKER_REGISTRY_USERNAME"] = "bob";
        var error = Assert.Throws<UserFacingException>(() => Resolve(new BrokerCommandLine()));

        Assert.Contains("DFBROKER_REGISTRY_PASSWORD", error.Message);
    }

    [Fact]
    public void Validate_KnowsTheNewKeys()
    {
        var good = Config("""
            { "fileOriginRoots": ["/srv/files"],
              "registries": { "registry.example.com": { "username": "u", "password": "" }, "127.0.0.1:5000": { "username": "v", "password": "p" } } }
            """);

        Assert.Empty(BrokerConfigFile.Load(good).Problems);
    }

    [Fact]
    public void Validate_ReportsBadFileRootsAndRegistries_WithoutShowingPasswords()
    {
        var bad = Config("""
            { "fileOriginRoots": ["relative/dir", ""],
              "registries": { "not a host": {}, "r.example.com": { "username": "u" }, "s.example.com": { "username": "u", "password": 5, "token": "t0ps3cret" } } }
            """);

        var problems = BrokerConfigFile.Load(bad).Problems;

        Assert.Equal(2, problems.Count(p => p.StartsWith("fileOriginRoots:", StringComparison.Ordinal)));
        Assert.Contains(problems, p => p.StartsWith("registries.not a host:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p == "registries.r.example.com: give both username (not empty) and password");
        Assert.Contains(problems, p => p == "registries.s.example.com.password: must be a string");
        Assert.Contains(problems, p => p.StartsWith("registries.s.example.com.token: unknown setting", StringComparison.Ordinal));
        Assert.All(problems, p => Assert.DoesNotContain("t0ps3cret", p));
        Assert.Equal(["fileOriginRoots: must be an array of strings, e.g. [\"/srv/files\"]"], BrokerConfigFile.Load(Config("""{ "fileOriginRoots": "/srv" }""")).Problems);
    }

    private BrokerOptions Resolve(BrokerCommandLine flags) => BrokerOptionsResolver.Resolve(flags, _environment.GetValueOrDefault);

    private string Sub(string name) => Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;

    private string Config(string json)
    {
        var path = Path.Combine(_dir, $"config-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
