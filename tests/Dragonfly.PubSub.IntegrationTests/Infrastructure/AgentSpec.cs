namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>How to start (and restart) one <c>dfagent</c>: its folders, subscriptions and extra flags.</summary>
public sealed record AgentSpec(
    string Name,
    string DataDir,
    string OutputDir,
    IReadOnlyList<string> Subscribe,
    IReadOnlyList<string> ExtraArgs);
