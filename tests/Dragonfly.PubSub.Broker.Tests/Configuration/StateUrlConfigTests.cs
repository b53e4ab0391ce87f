using Dragonfly.PubSub.Broker.Cli;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.State;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Tests.Configuration;

/// <summary>--state: redis://HOST:PORT[,…] (Redis itself) or redis-sentinel://HOST:PORT[,…]/SERVICE (its Sentinels).</summary>
public sealed class StateUrlConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-state-url-").FullName;
    private readonly Dictionary<string, string> _environment = [];

    public StateUrlConfigTests()
    {
        _environment["DFBROKER_DATA_DIR"] = _dir;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Redis_EndpointsWithDefaultPort_NoServiceName()
    {
        var url = StateUrl.TryParse("redis://r1.example,r2.example:7000", out var error);

        Assert.Null(error);
        Assert.Null(url!.ServiceName);
        Assert.Equal([("r1.example", 6379), ("r2.example", 7000)], url.Endpoints);
        Assert.Equal("redis://r1.example:6379,r2.example:7000", url.Shown);
    }

    [Fact]
    public void Sentinel_SentinelsWithDefaultPort_AndTheServiceName()
    {
        var url = StateUrl.TryParse("redis-sentinel://s1.example,[::1]:26380,s3.example:26381/dragonfly-state", out var error);

        Assert.Null(error);
        Assert.Equal("dragonfly-state", url!.ServiceName);
        Assert.Equal([("s1.example", 26379), ("::1", 26380), ("s3.example", 26381)], url.Endpoints);
        Assert.Equal("redis-sentinel://s1.example:26379,[::1]:26380,s3.example:26381/dragonfly-state", url.Shown);
    }

    [Fact]
    public void Resolve_SentinelFromTheEnvironment()
    {
        _environment["DFBROKER_STATE"] = "redis-sentinel://127.0.0.1:26379/mymaster";

        Assert.Equal("mymaster", BrokerOptionsResolver.Resolve(new BrokerCommandLine(), _environment.GetValueOrDefault).State!.ServiceName);
    }

    [Theory]
    [InlineData("sentinel://s1.example:26379/mymaster", "is not a state URL; use redis://HOST:PORT[,HOST:PORT] or redis-sentinel://HOST:PORT[,HOST:PORT]/SERVICE")]
    [InlineData("redis-sentinel://s1.example:26379", "names no Sentinel service")]
    [InlineData("redis-sentinel://s1.example:26379/", "names no Sentinel service")]
    [InlineData("redis-sentinel://s1.example:26379/my master", "names no Sentinel service")]
    [InlineData("redis-sentinel://s1.example:99999/mymaster", "'s1.example:99999' in")]
    [InlineData("redis://r1.example/0", "'r1.example/0' in")]
    public void Resolve_ABadStateUrl_IsOneUsageErrorLineNamingTheFlag(string url, string problem)
    {
        var error = Assert.Throws<UserFacingException>(() => BrokerOptionsResolver.Resolve(new BrokerCommandLine { State = url }, _environment.GetValueOrDefault));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.StartsWith("--state: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Cli_ASentinelUrlWithoutService_ExitsTwoWithOneLine()
    {
        var stderr = new StringWriter();

        var code = await BrokerCli.RunAsync(["--data-dir", _dir, "--state", "redis-sentinel://127.0.0.1:26379"], TextWriter.Null, stderr, _environment.GetValueOrDefault);

        Assert.Equal(ExitCodes.Usage, code);
        var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("--state: 'redis-sentinel://127.0.0.1:26379' names no Sentinel service", lines[0], StringComparison.Ordinal);
    }
}
