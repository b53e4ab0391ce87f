using Dragonfly.PubSub.Bench.Common.Cli;

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

    /// <summary>Each setting runs every run against a broker of its own (<c>--tls on|off|both</c>).</summary>
    public IReadOnlyList<TlsSetting> Tls { get; init; } = [TlsSetting.On];
}
