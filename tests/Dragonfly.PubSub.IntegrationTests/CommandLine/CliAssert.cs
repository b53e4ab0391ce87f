using Dragonfly.PubSub.IntegrationTests.Infrastructure;

namespace Dragonfly.PubSub.IntegrationTests.CommandLine;

/// <summary>The contract for errors a user sees: the exit code, one line on stderr, no stack trace.</summary>
public static class CliAssert
{
    public static void FailedWithOneLine(CliResult result, int exitCode)
    {
        Assert.True(result.ExitCode == exitCode, $"expected exit code {exitCode}, got {result.ExitCode}:\n{result}");
        Assert.True(result.StderrLines.Count == 1, $"expected exactly one non-empty line on stderr, got {result.StderrLines.Count}:\n{result}");
        Assert.False(result.Stderr.Contains("   at ", StringComparison.Ordinal) || result.Stdout.Contains("   at ", StringComparison.Ordinal),
            $"the output carries a stack trace:\n{result}");
    }
}
