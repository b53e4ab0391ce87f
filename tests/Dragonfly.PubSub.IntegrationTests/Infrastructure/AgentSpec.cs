namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// How to start (and restart) one <c>dfagent</c>: its folders, subscriptions and extra flags, and the
/// executable when it is not the built one (<see cref="Product.Agent"/>), e.g. the published native one.
/// </summary>
public sealed record AgentSpec(
    string Name,
    string DataDir,
    string OutputDir,
    IReadOnlyList<string> Subscribe,
    IReadOnlyList<string> ExtraArgs,
    string? Executable = null);
