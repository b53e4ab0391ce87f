namespace Dragonfly.PubSub.Bench.Common.Nginx;

/// <summary>One request: who asked, how, what nginx answered and how many body bytes it sent.</summary>
public sealed record AccessLogEntry(string Client, string Method, int Status, long BodyBytes, string? Range);
