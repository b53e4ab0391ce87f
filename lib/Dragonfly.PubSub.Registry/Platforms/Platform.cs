using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace Dragonfly.PubSub.Registry.Platforms;

/// <summary>
/// An image platform <c>os/arch[/variant]</c>, normalized like containerd does so that equal
/// platforms compare equal: <c>x86_64</c> is <c>amd64</c>, <c>aarch64</c> and <c>arm64/v8</c> are
/// <c>arm64</c>, a plain <c>arm</c> is <c>arm/v7</c>.
/// </summary>
public sealed partial record Platform
{
    public Platform(string os, string architecture, string? variant = null)
    {
        (Os, Architecture, Variant) = Normalize(os, architecture, variant);
    }

    public string Os { get; }

    public string Architecture { get; }

    public string? Variant { get; }

    public static Platform Parse(string text) =>
        TryParse(text, out var platform) ? platform : throw new FormatException($"'{text}' is not a platform; expected os/arch or os/arch/variant, e.g. linux/arm64");

    public static bool TryParse(string? text, [NotNullWhen(true)] out Platform? platform)
    {
        platform = null;
        if (text is null)
        {
            return false;
        }
        var parts = text.Trim().Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => !Part().IsMatch(p)))
        {
            return false;
        }
        platform = new Platform(parts[0], parts[1], parts.Length == 3 ? parts[2] : null);
        return true;
    }

    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";

    private static (string Os, string Architecture, string? Variant) Normalize(string os, string architecture, string? variant)
    {
        os = os.ToLowerInvariant();
        architecture = architecture.ToLowerInvariant();
        variant = string.IsNullOrEmpty(variant) ? null : variant.ToLowerInvariant();
        switch (architecture)
        {
            case "x86_64" or "x86-64" or "amd64":
                architecture = "amd64";
                variant = variant == "v1" ? null : variant;
                break;
            case "aarch64" or "arm64":
                architecture = "arm64";
                variant = variant is "8" or "v8" ? null : variant;
                break;
            case "armhf":
                architecture = "arm";
                variant = "v7";
                break;
            case "armel":
                architecture = "arm";
                variant = "v6";
                break;
            case "arm":
                variant = variant switch
                {
                    null or "7" => "v7",
                    "5" or "6" or "8" => "v" + variant,
                    _ => variant,
                };
                break;
            case "i386" or "i686" or "386":
                architecture = "386";
                break;
        }
        return (os, architecture, variant);
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]+$")]
    private static partial Regex Part();
}
