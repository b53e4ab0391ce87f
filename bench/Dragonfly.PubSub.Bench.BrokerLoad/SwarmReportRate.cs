using System.Globalization;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Bench.BrokerLoad;

/// <summary>
/// The piece-report rate of a real swarm: an agent reports the pieces it finished (its persister batches
/// what finished within 50 ms into one PiecesFinished, so a report carries one piece as long as pieces
/// arrive more than 50 ms apart), so it reports as fast as its download link fills pieces. On the swarm
/// testbed (16 agents × 256 MiB, every link 100 Mbit/s) the default piece layout
/// (<see cref="PieceLayout.For"/>) cuts 256 MiB into 1 MiB pieces, and a receiver that downloads at its
/// link rate finishes 12.5 MB/s ÷ 1 MiB = 11.92 pieces (and reports) per second, 84 ms apart; every
/// receiver downloads at once, so each reports at that rate for the whole transfer. The load loop draws
/// each interval uniformly from S..2S (mean 1.5 S), so S = 1 / (1.5 × 11.92) s = 56 ms.
/// (Until 2026-12-04 the default piece was 4 MiB: 2.98 reports/s.)
/// </summary>
public static class SwarmReportRate
{
    public const double LinkBitsPerSecond = 100e6;
    public const long TestbedFileBytes = 256L * 1024 * 1024;

    /// <summary>The agent's own choice of piece size for the testbed's file (256 KiB since session 23; 1 MiB before).</summary>
    public static int PieceBytes => PieceLayout.For(TestbedFileBytes).PieceSize;

    /// <summary>Pieces finished per second by one agent whose download link is full: 47.68 (11.92 with 1 MiB pieces).</summary>
    public static double PiecesPerSecondPerAgent => LinkBitsPerSecond / 8 / PieceBytes;

    /// <summary>The S of the S..2S interval whose mean gives <see cref="PiecesPerSecondPerAgent"/>.</summary>
    public static TimeSpan ReportInterval => TimeSpan.FromSeconds(1 / (1.5 * PiecesPerSecondPerAgent));

    /// <summary>
    /// With peer piece news (dfagent --piece-news peer, the default since session 16) an agent sends a task's
    /// reports at most once a second (<c>PieceReportThrottle</c>): one report a second carrying that second's pieces.
    /// </summary>
    public static TimeSpan ThrottledReportInterval => TimeSpan.FromSeconds(1 / 1.5);

    /// <summary>The pieces a throttled report carries: a second's worth (48).</summary>
    public static int PiecesPerThrottledReport => (int)Math.Round(PiecesPerSecondPerAgent);

    public static string ThrottledDerivation => string.Create(CultureInfo.InvariantCulture,
        $"swarm, peer piece news: one report per second per agent carrying that second's {PiecesPerThrottledReport} pieces ({PiecesPerSecondPerAgent:0.00} pieces/s on a full {LinkBitsPerSecond / 1e6:0} Mbit/s link with {PieceBytes / 1048576.0:0.##} MiB pieces)");

    public static string Derivation => string.Create(CultureInfo.InvariantCulture,
        $"swarm: one report per finished piece; a receiver on a full {LinkBitsPerSecond / 1e6:0} Mbit/s link with the default {PieceBytes / 1048576.0:0.##} MiB pieces "
        + $"of a 256 MiB file (16 agents x 256 MiB testbed) finishes {LinkBitsPerSecond / 8 / 1e6:0.0} MB/s / {PieceBytes / 1048576.0:0.##} MiB = {PiecesPerSecondPerAgent:0.00} pieces/s");
}
