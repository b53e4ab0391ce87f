using System.Globalization;

namespace Dragonfly.PubSub.Contracts;

/// <summary>Sizes and rates as users write them: <c>20MiB</c>, <c>1.5GB</c>, <c>512k</c>, <c>4096</c>.</summary>
public static class ByteSize
{
    private static readonly (string Suffix, long Factor)[] Units =
    [
        ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
        ("KB", 1000L), ("MB", 1000_000L), ("GB", 1000_000_000L), ("TB", 1000_000_000_000L),
        ("K", 1L << 10), ("M", 1L << 20), ("G", 1L << 30), ("T", 1L << 40),
        ("B", 1L),
    ];

    /// <summary>Parses a size; a trailing <c>/s</c> is accepted so rates read naturally.</summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var s = text.Trim();
        if (s.EndsWith("/s", StringComparison.OrdinalIgnoreCase))
        {
            s = s[..^2];
        }
        long factor = 1;
        foreach (var (suffix, f) in Units)
        {
            if (s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                factor = f;
                s = s[..^suffix.Length];
                break;
            }
        }
        if (!double.TryParse(s.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value < 0)
        {
            return false;
        }
        var result = value * factor;
        if (result > long.MaxValue)
        {
            return false;
        }
        bytes = (long)result;
        return true;
    }

    public static long Parse(string text) =>
        TryParse(text, out var bytes)
            ? bytes
            : throw new FormatException($"'{text}' is not a size; write a number with an optional unit, e.g. 20MiB, 512KiB, 1GB");

    /// <summary>
    /// A rate in bytes per second as a flag, an environment variable or a config key gave it
    /// (<paramref name="source"/> names which); 0 when it was not given.
    /// </summary>
    /// <exception cref="Cli.UserFacingException">A usage error: <see cref="NotARate"/>.</exception>
    public static long ParseRate(string? text, string source) =>
        text is null ? 0
        : TryParse(text, out var rate) ? rate
        : throw Cli.UserFacingException.Usage(NotARate(source, text));

    /// <summary>The one line for a value that is not a rate, wherever it came from.</summary>
    public static string NotARate(string source, string text) =>
        $"{source} '{text}' is not a rate; write e.g. 20MiB (per second)";

    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.#} {units[unit]}");
    }
}
