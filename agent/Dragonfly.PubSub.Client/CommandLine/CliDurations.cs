using System.Globalization;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Client.CommandLine;

/// <summary>Durations as typed on the command lines: <c>500ms</c>, <c>90s</c>, <c>10m</c>, <c>1h</c> or <c>hh:mm:ss</c>.</summary>
public static class CliDurations
{
    /// <exception cref="UserFacingException">Usage (exit 2): not a positive duration.</exception>
    public static TimeSpan Parse(string text, string flag)
    {
        ArgumentNullException.ThrowIfNull(text);
        var units = new (string Suffix, double Seconds)[] { ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600) };
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(text[..^suffix.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
                && value > 0)
            {
                return TimeSpan.FromSeconds(value * seconds);
            }
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero
            ? span
            : throw UserFacingException.Usage($"{flag} '{text}' is not a duration; write e.g. 90s, 10m or 1h");
    }
}
