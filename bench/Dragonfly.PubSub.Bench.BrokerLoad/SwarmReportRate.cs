using System.Globalization;

namespace Dragonfly.PubSub.Bench.BrokerLoad;

/// <summary>
/// The piece-report rate of a real swarm: an agent reports each piece it finished, so it reports as
/// fast as its download link fills pieces. On the swarm testbed (16 agents × 256 MiB, every link
/// 100 Mbit/s, the default 4 MiB pieces) a receiver that downloads at its link rate finishes
/// 12.5 MB/s ÷ 4 MiB = 2.98 pieces per second; every receiver downloads at once, so each reports at
/// that rate for the whole transfer. The load loop draws each interval uniformly from S..2S (mean
/// 1.5 S), so S = 1 / (1.5 × 2.98) s = 0.224 s.
/// </summary>
public static class SwarmReportRate
{
    public const double LinkBitsPerSecond = 100e6;
    public const int PieceBytes = 4 * 1024 * 1024;

    /// <summary>Pieces finished per second by one agent whose download link is full: 2.98.</summary>
    public static double PiecesPerSecondPerAgent => LinkBitsPerSecond / 8 / PieceBytes;

    /// <summary>The S of the S..2S interval whose mean gives <see cref="PiecesPerSecondPerAgent"/>.</summary>
    public static TimeSpan ReportInterval => TimeSpan.FromSeconds(1 / (1.5 * PiecesPerSecondPerAgent));

    public static string Derivation => string.Create(CultureInfo.InvariantCulture,
        $"swarm: one report per finished piece; a receiver on a full {LinkBitsPerSecond / 1e6:0} Mbit/s link with {PieceBytes / 1048576} MiB pieces "
        + $"(16 agents x 256 MiB testbed) finishes {LinkBitsPerSecond / 8 / 1e6:0.0} MB/s / {PieceBytes / 1048576} MiB = {PiecesPerSecondPerAgent:0.00} pieces/s");
}
