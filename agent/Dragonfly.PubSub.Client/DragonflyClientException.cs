using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Client;

/// <summary>The agent refused or failed a request; <see cref="Message"/> is one line a user can act on.</summary>
public sealed class DragonflyClientException(string message, string kind, Exception? inner = null) : Exception(message, inner)
{
    /// <summary><see cref="ApiError.Usage"/>, <see cref="ApiError.NotFound"/> or <see cref="ApiError.Failed"/>.</summary>
    public string Kind { get; } = kind;

    /// <summary>The contract's exit code for this failure.</summary>
    public int ExitCode => Kind == ApiError.Usage ? ExitCodes.Usage : ExitCodes.Failed;
}
