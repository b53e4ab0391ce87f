namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// How an expected file appeared: after how long, and any content other than the expected one
/// seen at its final path on the way (a partial or wrong file).
/// </summary>
public sealed record FileArrival(string Path, TimeSpan Elapsed, IReadOnlyList<string> Anomalies);
