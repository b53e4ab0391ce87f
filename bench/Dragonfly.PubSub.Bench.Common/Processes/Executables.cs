using System.Reflection;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Common.Processes;

/// <summary>
/// Where the executables are: the Dragonfly apphosts in their projects' bin folders (RepoRoot and
/// Configuration are stamped into this assembly at build time), the baselines' tools on PATH.
/// </summary>
public static class Executables
{
    private static readonly IReadOnlyDictionary<string, string> Build =
        typeof(Executables).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value ?? "");

    public static string Configuration => Build["Configuration"];

    public static string RepoRoot => Build["RepoRoot"];

    public static string Broker => Dragonfly("broker/Dragonfly.PubSub.Broker", "dfbroker");

    public static string Agent => Dragonfly("agent/Dragonfly.PubSub.Agent", "dfagent");

    public static string Publish => Dragonfly("agent/Dragonfly.PubSub.Publish", "dfpub");

    public static string Get => Dragonfly("agent/Dragonfly.PubSub.Get", "dfget");

    /// <summary>A tool on PATH (or in an sbin folder), else one line that says who needs it and how to install it.</summary>
    public static string System(string name, string debianPackage, string neededBy) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"])
            .Where(d => d.Length > 0)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists)
        ?? throw new UserFacingException($"{name} is not installed; {neededBy} needs it: apt-get install -y {debianPackage}");

    private static string Dragonfly(string project, string name)
    {
        var path = Path.Combine(RepoRoot, project, "bin", Configuration, "net10.0", name);
        return File.Exists(path)
            ? path
            : throw new UserFacingException($"{path} does not exist; build it first: dotnet build -c {Configuration} {project}");
    }
}
