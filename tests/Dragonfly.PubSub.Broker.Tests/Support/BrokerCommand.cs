using Dragonfly.PubSub.Broker.Cli;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Support;

/// <summary>Runs the real <c>dfbroker</c> command line in this process and captures what it prints.</summary>
public static class BrokerCommand
{
    public static async Task<ProcessResult> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await BrokerCli.RunAsync(args, stdout, stderr, _ => null).WaitAsync(TimeSpan.FromSeconds(60));
        return new ProcessResult(exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary><c>dfbroker token create</c>; returns the token (stdout's one line).</summary>
    public static async Task<string> CreateTokenAsync(string dataDir, string role = "agent", int uses = 1, params string[] more)
    {
        var result = await RunAsync(["token", "create", "--role", role, "--uses", uses.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", dataDir, .. more]);
        Assert.True(result.ExitCode == 0, result.Output);
        return result.Stdout.Trim();
    }
}
