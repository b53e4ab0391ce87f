using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>Durations as typed in flags and config: <c>90s</c>, <c>30m</c>, <c>24h</c>, <c>7d</c>.</summary>
internal static class Durations
{
    public static bool TryParse(string? text, [NotNullWhen(true)] out TimeSpan? duration)
    {
        duration = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        text = text.Trim();
        var seconds = text[^1] switch
        {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => 0,
        };
        if (seconds == 0 || !double.TryParse(text[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0 || value > 3650.0 * 86400 / seconds)
        {
            return false;
        }
        duration = TimeSpan.FromSeconds(value * seconds);
        return true;
    }

    public static string Format(TimeSpan duration) =>
        duration.TotalSeconds % 86400 == 0 ? $"{duration.TotalDays:0}d"
        : duration.TotalSeconds % 3600 == 0 ? $"{duration.TotalHours:0}h"
        : duration.TotalSeconds % 60 == 0 ? $"{duration.TotalMinutes:0}m"
        : $"{duration.TotalSeconds:0}s";
}
