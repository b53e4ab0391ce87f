using System.CommandLine;
using Dragonfly.PubSub.Bench.Swarm;

namespace Dragonfly.PubSub.Bench.Tests.Swarm;

public sealed class SwarmHelpTests
{
    [Fact]
    public void Help_DocumentsEveryOption()
    {
        var root = new RootCommand { SwarmCommand.Create() };
        using var output = new StringWriter();

        var code = root.Parse(["swarm", "--help"]).Invoke(new InvocationConfiguration { Output = output });

        Assert.Equal(0, code);
        var help = output.ToString();
        foreach (var option in new[] { "--agents", "--size", "--rate", "--mode", "--baselines", "--out", "--runs", "--keep", "--piece-size", "--pieces-in-flight", "--upload-limit", "--seed-upload-limit", "--tls" })
        {
            Assert.Contains(option, help, StringComparison.Ordinal);
        }
        Assert.Contains("on|off|both", help, StringComparison.Ordinal);
    }
}
