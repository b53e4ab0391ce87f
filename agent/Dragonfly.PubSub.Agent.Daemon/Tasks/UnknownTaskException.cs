namespace Dragonfly.PubSub.Agent.Tasks;

/// <summary>The broker does not know the requested content id (exit 1, HTTP 404).</summary>
public sealed class UnknownTaskException(string message) : Exception(message);
