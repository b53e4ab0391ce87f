using System.Reflection;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Common.Processes;

/// <summary>
/// Where the executables are: the Dragonfly apphosts in their projects' bin folders (RepoRoot and
/// Configuration are stamped into this assembly at build time), the baselines' tools on PATH.
/// <see cref="BinDirVariable"/> names a folder of other builds instead, e.g. published ones
/// (<c>dotnet publish -c Release PROJECT -o DIR/NAME</c>: dfagent, dfpub and dfget Native AOT, dfbroker ReadyToRun).
/// </summary>
public static class Executables
{
    /// <summary>A folder holding dfbroker, dfagent, dfpub and dfget, each as DIR/NAME or DIR/NAME/NAME.</summary>
    public const string BinDirVariable = "DFBENCH_BIN_DIR";

    private static readonly IReadOnlyDictionary<string, string> Build =
        typeof(Executables).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value ?? "");

    public static string Configuration => Build["Configuration"];

    public static string RepoRoot => Build["RepoRoot"];

    /// <summary>What result.json records about the Dragonfly executables it ran.</summary>
    public static string Description => Environment.GetEnvironmentVariable(BinDirVariable) is { Length: > 0 } dir
        ? $"from {BinDirVariable}={dir}"
        : $"dotnet build -c {Configuration} outputs (JIT)";

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
        if (Environment.GetEnvironmentVariable(BinDirVariable) is { Length: > 0 } dir)
        {
            return new[] { Path.Combine(dir, name), Path.Combine(dir, name, name) }.FirstOrDefault(File.Exists)
                ?? throw new UserFacingException($"{BinDirVariable} is {dir}, but neither {dir}/{name} nor {dir}/{name}/{name} exists; publish it there: dotnet publish -c {Configuration} {project} -o {dir}/{name}");
        }
        var path = Path.Combine(RepoRoot, project, "bin", Configuration, "net10.0", name);
        return File.Exists(path)
            ? path
            : throw new UserFacingException($"{path} does not exist; build it first: dotnet build -c {Configuration} {project}");
    }
}
