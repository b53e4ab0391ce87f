using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Get;

/// <summary>
/// Where the dfagent executable for the one-shot agent is: $DFGET_AGENT, else next to dfget (a
/// release tarball, an image), else on PATH, else the build output of a source checkout.
/// </summary>
internal static class AgentExecutable
{
    private const string Name = "dfagent";

    /// <exception cref="UserFacingException">No dfagent found (exit 1), or DFGET_AGENT names no file.</exception>
    public static string Find()
    {
        if (Environment.GetEnvironmentVariable("DFGET_AGENT") is { Length: > 0 } given)
        {
            return File.Exists(given)
                ? Path.GetFullPath(given)
                : throw new UserFacingException($"DFGET_AGENT={given} is not a file; point it at the dfagent executable");
        }
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, Name) };
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, Name)));
        candidates.AddRange(SourceTreeBuilds());
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new UserFacingException("no dfagent runs at --data-dir and no dfagent executable was found to run a one-shot agent; start dfagent, put it next to dfget or on PATH, or set DFGET_AGENT");
    }

    /// <summary>
    /// From agent/Dragonfly.PubSub.Get/bin/&lt;configuration&gt;/net10.0[/&lt;rid&gt;/publish]/ up to agent/, then
    /// Dragonfly.PubSub.Agent's output of the same configuration: tests and dfbench run the build outputs.
    /// </summary>
    private static IEnumerable<string> SourceTreeBuilds()
    {
        DirectoryInfo? below = null;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        for (var up = 0; dir is not null && up < 6; up++, below = dir, dir = dir.Parent)
        {
            if (dir.Name == "bin" && below is not null && dir.Parent?.Parent is { } agentFolder)
            {
                // below: the configuration folder (Release, Debug) under bin/.
                yield return Path.Combine(agentFolder.FullName, "Dragonfly.PubSub.Agent", "bin", below.Name, "net10.0", Name);
                yield break;
            }
        }
    }
}
