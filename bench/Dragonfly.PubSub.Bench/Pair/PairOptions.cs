namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>What <c>dfbench pair</c> was asked to do.</summary>
internal sealed record PairOptions
{
    public required long Size { get; init; }

    public required string OutputFolder { get; init; }

    public required int Runs { get; init; }

    public required PairMode Mode { get; init; }

    /// <summary>Passed to the pulling agent as <c>--pieces-in-flight</c>; null keeps the agent's default.</summary>
    public int? PiecesInFlight { get; init; }
}
