using Dragonfly.PubSub.IntegrationTests.CommandLine;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;

namespace Dragonfly.PubSub.IntegrationTests.Cache;

/// <summary>Wrong cache settings and a gc without an agent: one line naming what to fix, the contract's exit code.</summary>
public sealed class CacheBadInputTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("dfit-cache-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Theory]
    [InlineData("--cache-size", "lots")]
    [InlineData("--min-free", "150%")]
    [InlineData("--min-free", "abc")]
    public async Task Dfagent_BadCacheSetting_Exits2NamingTheFlag(string flag, string value)
    {
        var result = await Cli.RunAsync("dfagent", ["--broker", "127.0.0.1:1", "--data-dir", _dataDir, flag, value]);

        CliAssert.FailedWithOneLine(result, 2);
        Assert.Contains(flag, result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dataDir, "agent.db")), "a refused start created the agent database");
    }

    [Fact]
    public async Task DfagentGc_NoAgentRunning_Exits1SayingHowToStartOne()
    {
        var result = await Cli.RunAsync("dfagent", ["gc", "--dry-run", "--data-dir", _dataDir]);

        CliAssert.FailedWithOneLine(result, 1);
        Assert.Contains($"no dfagent is running at {_dataDir}", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DfagentGc_BadSize_Exits2()
    {
        var result = await Cli.RunAsync("dfagent", ["gc", "--cache-size", "-3", "--data-dir", _dataDir]);

        CliAssert.FailedWithOneLine(result, 2);
        Assert.Contains("0 evicts everything not in use", result.Stderr, StringComparison.Ordinal);
    }
}
