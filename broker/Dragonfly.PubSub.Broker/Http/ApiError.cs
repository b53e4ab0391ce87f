namespace Dragonfly.PubSub.Broker.Http;

/// <summary>The body of an HTTP error: <c>{"error": "..."}</c>.</summary>
public sealed record ApiError(string Error);
