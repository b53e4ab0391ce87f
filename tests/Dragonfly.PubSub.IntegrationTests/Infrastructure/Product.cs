using System.Reflection;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>Where the built executables live: <c>&lt;RepoRoot&gt;/&lt;project&gt;/bin/&lt;Configuration&gt;/net10.0/&lt;name&gt;</c>.</summary>
public static class Product
{
    private static readonly Assembly ThisAssembly = typeof(Product).Assembly;

    public static string RepoRoot { get; } = Metadata("RepoRoot");

    public static string Configuration { get; } = Metadata("Configuration");

    public static string Broker => Executable("broker/Dragonfly.PubSub.Broker", "dfbroker");

    public static string Agent => Executable("agent/Dragonfly.PubSub.Agent", "dfagent");

    public static string Publish => Executable("agent/Dragonfly.PubSub.Publish", "dfpub");

    public static string Get => Executable("agent/Dragonfly.PubSub.Get", "dfget");

    /// <summary>
    /// The published, Native AOT <c>dfagent</c> that eng/test.sh makes after the build
    /// (<c>dotnet publish -c Release agent/Dragonfly.PubSub.Agent -o .tools/native/dfagent</c>): what users run.
    /// </summary>
    public static string NativeAgent
    {
        get
        {
            var path = Path.Combine(RepoRoot, ".tools", "native", "dfagent", "dfagent");
            return File.Exists(path)
                ? path
                : throw new FileNotFoundException(
                    $"{path} does not exist; run eng/test.sh, or publish it: dotnet publish -c Release agent/Dragonfly.PubSub.Agent -o .tools/native/dfagent", path);
        }
    }

    /// <summary>The path of <c>dfbroker</c>, <c>dfagent</c>, <c>dfpub</c> or <c>dfget</c>.</summary>
    public static string ByName(string tool) => tool switch
    {
        "dfbroker" => Broker,
        "dfagent" => Agent,
        "dfpub" => Publish,
        "dfget" => Get,
        _ => throw new ArgumentException($"unknown tool '{tool}'", nameof(tool)),
    };

    private static string Executable(string project, string name)
    {
        var path = Path.Combine(RepoRoot, project, "bin", Configuration, "net10.0", name);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} does not exist; build the solution ({Configuration}) first", path);
    }

    private static string Metadata(string key) =>
        ThisAssembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata '{key}' is missing from the test project");
}
