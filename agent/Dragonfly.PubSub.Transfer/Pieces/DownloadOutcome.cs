namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>How a download ended; <paramref name="Error"/> is one line a user can read when it failed.</summary>
public sealed record DownloadOutcome(bool Succeeded, string? Error)
{
    public static DownloadOutcome Success { get; } = new(true, null);

    public static DownloadOutcome Failure(string error) => new(false, error);
}
