namespace Dragonfly.PubSub.Registry.Platforms;

/// <summary>
/// Which platforms of an image to take: an explicit list (<c>linux/amd64,linux/arm64</c>) or
/// <c>all</c>. There is no default: a preheat never silently takes the broker's own platform.
/// </summary>
public sealed record PlatformSelector
{
    public const string AllKeyword = "all";

    private PlatformSelector(bool all, IReadOnlyList<Platform> platforms)
    {
        All = all;
        Platforms = platforms;
    }

    public bool All { get; }

    /// <summary>The requested platforms; empty when <see cref="All"/>.</summary>
    public IReadOnlyList<Platform> Platforms { get; }

    public static PlatformSelector AllPlatforms { get; } = new(true, []);

    public static PlatformSelector Of(params IEnumerable<Platform> platforms)
    {
        var list = platforms.Distinct().ToArray();
        return list.Length == 0
            ? throw new ArgumentException("a platform is required: os/arch[/variant], a comma list of them, or all", nameof(platforms))
            : new PlatformSelector(false, list);
    }

    /// <summary>Parses <c>all</c> or a comma list of <c>os/arch[/variant]</c>; repeated values may be passed separately.</summary>
    public static PlatformSelector Parse(params IEnumerable<string> values)
    {
        var items = values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToArray();
        if (items.Length == 0)
        {
            throw new FormatException("a platform is required: --platform os/arch[/variant][,os/arch...] or all");
        }
        if (items.Any(i => i.Equals(AllKeyword, StringComparison.OrdinalIgnoreCase)))
        {
            return items.Length == 1
                ? AllPlatforms
                : throw new FormatException($"'{string.Join(',', items)}': 'all' cannot be combined with other platforms");
        }
        return Of(items.Select(Platform.Parse));
    }

    public bool Matches(Platform platform) => All ? !IsUnknown(platform) : Platforms.Contains(platform);

    public override string ToString() => All ? AllKeyword : string.Join(',', Platforms);

    /// <summary>BuildKit's attestation manifests carry <c>unknown/unknown</c>: not a platform anyone runs.</summary>
    internal static bool IsUnknown(Platform platform) => platform.Os == "unknown" || platform.Architecture == "unknown";
}
