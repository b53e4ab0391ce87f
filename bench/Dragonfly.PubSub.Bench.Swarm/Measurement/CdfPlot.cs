using System.Globalization;
using System.Text;

namespace Dragonfly.PubSub.Bench.Swarm.Measurement;

/// <summary>
/// A hand-written SVG: for each system, the fraction of receivers finished against seconds since
/// the start (a step function), with D_min as a dashed vertical line.
/// </summary>
internal static class CdfPlot
{
    private const int Width = 720;
    private const int Height = 420;
    private const int Left = 60;
    private const int Right = 20;
    private const int Top = 30;
    private const int Bottom = 50;
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

    public static string Svg(string title, IReadOnlyList<SystemResult> systems, double dMinSeconds)
    {
        var xMax = NiceCeiling(Math.Max(dMinSeconds, systems.Count == 0 ? 1 : systems.Max(s => s.AllFinishedSeconds)) * 1.05);
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double X(double seconds) => Left + seconds / xMax * plotW;
        double Y(double fraction) => Top + (1 - fraction) * plotH;
        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"12\">\n"));
        svg.Append(Invariant($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n"));
        svg.Append(Invariant($"<text x=\"{Width / 2}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">{Escape(title)}</text>\n"));
        for (var i = 0; i <= 5; i++)
        {
            var seconds = xMax * i / 5;
            var fraction = i / 5.0;
            svg.Append(Invariant($"<line x1=\"{X(seconds):0.#}\" y1=\"{Top}\" x2=\"{X(seconds):0.#}\" y2=\"{Top + plotH}\" stroke=\"#eee\"/>\n"));
            svg.Append(Invariant($"<text x=\"{X(seconds):0.#}\" y=\"{Top + plotH + 16}\" text-anchor=\"middle\">{seconds:0.##}</text>\n"));
            svg.Append(Invariant($"<line x1=\"{Left}\" y1=\"{Y(fraction):0.#}\" x2=\"{Left + plotW}\" y2=\"{Y(fraction):0.#}\" stroke=\"#eee\"/>\n"));
            svg.Append(Invariant($"<text x=\"{Left - 6}\" y=\"{Y(fraction) + 4:0.#}\" text-anchor=\"end\">{fraction:0.0}</text>\n"));
        }
        svg.Append(Invariant($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"black\"/>\n"));
        svg.Append(Invariant($"<text x=\"{Left + plotW / 2}\" y=\"{Height - 12}\" text-anchor=\"middle\">seconds since start</text>\n"));
        svg.Append(Invariant($"<text x=\"14\" y=\"{Top + plotH / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {Top + plotH / 2})\">fraction of receivers finished</text>\n"));
        svg.Append(Invariant($"<line x1=\"{X(dMinSeconds):0.#}\" y1=\"{Top}\" x2=\"{X(dMinSeconds):0.#}\" y2=\"{Top + plotH}\" stroke=\"black\" stroke-dasharray=\"5,4\"/>\n"));
        svg.Append(Invariant($"<text x=\"{X(dMinSeconds) + 4:0.#}\" y=\"{Top + 14}\">D_min {dMinSeconds:0.0} s</text>\n"));
        for (var s = 0; s < systems.Count; s++)
        {
            var color = Colors[s % Colors.Length];
            var times = systems[s].CompletionSeconds.Order().ToArray();
            var points = new List<string> { Invariant($"{X(0):0.#},{Y(0):0.#}") };
            for (var i = 0; i < times.Length; i++)
            {
                points.Add(Invariant($"{X(times[i]):0.#},{Y((double)i / times.Length):0.#}"));
                points.Add(Invariant($"{X(times[i]):0.#},{Y((double)(i + 1) / times.Length):0.#}"));
            }
            svg.Append(Invariant($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(' ', points)}\"/>\n"));
            var legendY = Top + plotH - 12 - 18 * (systems.Count - 1 - s);
            svg.Append(Invariant($"<line x1=\"{Left + plotW - 200}\" y1=\"{legendY - 4}\" x2=\"{Left + plotW - 176}\" y2=\"{legendY - 4}\" stroke=\"{color}\" stroke-width=\"2\"/>\n"));
            svg.Append(Invariant($"<text x=\"{Left + plotW - 170}\" y=\"{legendY}\">{Escape(systems[s].Name)} ({systems[s].RatioToDMin:0.00} × D_min)</text>\n"));
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>1, 2 or 5 times a power of ten, at or above <paramref name="value"/>.</summary>
    internal static double NiceCeiling(double value)
    {
        var power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 2.0, 5.0, 10.0 })
        {
            if (step * power >= value)
            {
                return step * power;
            }
        }
        return 10 * power;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
}
