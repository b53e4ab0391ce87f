using System.Reflection;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>The version an agent tells the broker in its Hello (the fleet dashboard groups agents by it).</summary>
public static class AgentVersion
{
    /// <summary>The agent assembly's informational version, e.g. <c>1.0.0+3f2c1ab</c> (the build's commit).</summary>
    public static string Current { get; } =
        typeof(AgentVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(AgentVersion).Assembly.GetName().Version?.ToString()
        ?? "";
}
