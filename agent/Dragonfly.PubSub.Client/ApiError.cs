namespace Dragonfly.PubSub.Client;

/// <summary>The JSON body of an error answer from the agent's API.</summary>
/// <param name="Kind"><c>usage</c> (bad input, exit 2), <c>not-found</c>, <c>failed</c> or <c>unreachable</c> (exit 1).</param>
public sealed record ApiError(string Error, string Kind)
{
    public const string Usage = "usage";
    public const string NotFound = "not-found";
    public const string Failed = "failed";

    /// <summary>No agent answers on the socket (set by the SDK, never sent by an agent).</summary>
    public const string Unreachable = "unreachable";
}
