using System.Globalization;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Swarm.Testbed;

/// <summary>
/// A link rate in bits per second, written as tc writes it: <c>100mbit</c>, <c>1gbit</c>,
/// <c>500kbit</c> (decimal units: 1 mbit = 10^6 bit/s, as tc means it).
/// </summary>
internal readonly record struct LinkRate(long BitsPerSecond)
{
    private static readonly (string Suffix, long Factor)[] Units =
        [("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000), ("bit", 1)];

    public double BytesPerSecond => BitsPerSecond / 8.0;

    /// <summary>Whole bytes per second, as dfagent --upload-limit and aria2c's limits take a rate.</summary>
    public string BytesPerSecondText => ((long)BytesPerSecond).ToString(CultureInfo.InvariantCulture);

    /// <summary>The argument tc takes, in bits per second so nothing is lost to rounding.</summary>
    public string TcText => BitsPerSecond.ToString(CultureInfo.InvariantCulture) + "bit";

    public static LinkRate Parse(string text)
    {
        var trimmed = text.Trim().ToLowerInvariant();
        foreach (var (suffix, factor) in Units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(trimmed[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                && value > 0 && value * factor >= 8_000 && value * factor <= 100e9)
            {
                return new LinkRate((long)Math.Round(value * factor));
            }
        }
        throw UserFacingException.Usage($"'{text}' is not a link rate; write it as tc does, e.g. 100mbit, 1gbit or 500kbit (at least 8kbit)");
    }

    /// <summary><c>90%</c> of <paramref name="of"/>, or a rate written as <see cref="Parse"/> takes it; never above <paramref name="of"/>.</summary>
    public static LinkRate ParseShare(string text, LinkRate of, string flag)
    {
        var trimmed = text.Trim();
        if (trimmed.EndsWith('%'))
        {
            return double.TryParse(trimmed[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) && percent is > 0 and <= 100
                ? new LinkRate((long)Math.Round(of.BitsPerSecond * percent / 100))
                : throw UserFacingException.Usage($"{flag} '{text}' is not a share of --rate; write e.g. 90%");
        }
        LinkRate rate;
        try
        {
            rate = Parse(trimmed);
        }
        catch (UserFacingException)
        {
            throw UserFacingException.Usage($"{flag} '{text}' is neither a share of --rate (e.g. 90%) nor a rate as tc writes it (e.g. 88mbit)");
        }
        return rate.BitsPerSecond <= of.BitsPerSecond ? rate : throw UserFacingException.Usage($"{flag} {rate} is above --rate {of}; a cap above the link does nothing");
    }

    public override string ToString() => BitsPerSecond switch
    {
        >= 1_000_000_000 when BitsPerSecond % 1_000_000_000 == 0 => $"{BitsPerSecond / 1_000_000_000}gbit",
        >= 1_000_000 when BitsPerSecond % 1_000_000 == 0 => $"{BitsPerSecond / 1_000_000}mbit",
        >= 1_000 when BitsPerSecond % 1_000 == 0 => $"{BitsPerSecond / 1_000}kbit",
        _ => $"{BitsPerSecond}bit",
    };
}
