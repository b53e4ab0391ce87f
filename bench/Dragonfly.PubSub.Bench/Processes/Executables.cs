using System.Reflection;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Processes;

/// <summary>
/// Where the executables are: the Dragonfly apphosts in their projects' bin folders (RepoRoot
/// and Configuration are stamped into this assembly at build time), the baselines on PATH.
/// </summary>
internal static class Executables
{
    private static readonly IReadOnlyDictionary<string, string> Build =
        typeof(Executables).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value ?? "");

    public static string Broker => Dragonfly("broker/Dragonfly.PubSub.Broker", "dfbroker");

    public static string Agent => Dragonfly("agent/Dragonfly.PubSub.Agent", "dfagent");

    public static string Publish => Dragonfly("agent/Dragonfly.PubSub.Publish", "dfpub");

    public static string Get => Dragonfly("agent/Dragonfly.PubSub.Get", "dfget");

    public static string Configuration => Build["Configuration"];

    /// <summary>A system tool such as nginx or curl, or a one-line error that says how to install it.</summary>
    public static string System(string name, string debianPackage)
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/sbin"])
            .Where(d => d.Length > 0)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
        return path ?? throw new UserFacingException($"{name} is not installed; the baseline needs it: apt-get install -y {debianPackage}");
    }

    private static string Dragonfly(string project, string name)
    {
        var path = Path.Combine(Build["RepoRoot"], project, "bin", Build["Configuration"], "net10.0", name);
        return File.Exists(path)
            ? path
            : throw new UserFacingException($"{path} does not exist; build it first: dotnet build -c {Build["Configuration"]} Dragonfly.PubSub.sln");
    }
}
