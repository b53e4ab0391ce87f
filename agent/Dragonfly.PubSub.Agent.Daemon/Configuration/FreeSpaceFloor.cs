using System.Globalization;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>
/// How much of the data dir's filesystem the agent keeps free (<c>--min-free</c>): bytes
/// (<c>2GiB</c>) or a share of the filesystem (<c>5%</c>). Below it the agent evicts cached content
/// nothing needs. <see cref="None"/> (the default) keeps no floor.
/// </summary>
public readonly record struct FreeSpaceFloor
{
    private FreeSpaceFloor(long bytes, double percent)
    {
        Bytes = bytes;
        Percent = percent;
    }

    public static FreeSpaceFloor None { get; } = default;

    /// <summary>An absolute floor in bytes; 0 when the floor is a percentage.</summary>
    public long Bytes { get; }

    /// <summary>A floor as a percentage of the filesystem's size (0–100); 0 when it is in bytes.</summary>
    public double Percent { get; }

    public bool IsNone => Bytes == 0 && Percent == 0;

    public static FreeSpaceFloor OfBytes(long bytes) => new(Math.Max(0, bytes), 0);

    /// <summary>The floor in bytes on a filesystem of <paramref name="totalBytes"/>.</summary>
    public long BytesOf(long totalBytes) => Percent > 0 ? (long)(totalBytes * (Percent / 100)) : Bytes;

    /// <summary>Parses <c>5%</c>, <c>2GiB</c> or <c>0</c> (no floor).</summary>
    /// <exception cref="UserFacingException">Usage (exit 2): neither a size nor a percentage below 100.</exception>
    public static FreeSpaceFloor Parse(string text, string flag = "--min-free")
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        if (trimmed.EndsWith('%'))
        {
            return double.TryParse(trimmed[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percent)
                && percent is >= 0 and < 100
                ? new FreeSpaceFloor(0, percent)
                : throw UserFacingException.Usage($"{flag} '{text}' is not a percentage from 0 to 99.9; write e.g. 5%");
        }
        return ByteSize.TryParse(trimmed, out var bytes)
            ? new FreeSpaceFloor(bytes, 0)
            : throw UserFacingException.Usage($"{flag} '{text}' is neither a size nor a percentage; write e.g. 5% or 10GiB");
    }

    public override string ToString() =>
        IsNone ? "none" : Percent > 0 ? string.Create(CultureInfo.InvariantCulture, $"{Percent}%") : ByteSize.Format(Bytes);
}
