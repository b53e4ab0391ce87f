namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>How the file enters our swarm (<c>--mode</c>), and the name each gives its system in the report.</summary>
internal static class SwarmModes
{
    /// <summary>dfpub of a local file on the publisher node; receivers subscribed.</summary>
    public const string Publish = "publish";

    /// <summary>A URL task: every receiver runs <c>dfget URL -O FILE</c> through its dfagent at once; the broker's seed reads nginx.</summary>
    public const string Url = "url";

    /// <summary>A URL task announced with <c>dfpub --url</c>; receivers subscribed; the broker's seed reads nginx.</summary>
    public const string UrlAnnounce = "url-announce";

    public static readonly IReadOnlyList<string> All = [Publish, Url, UrlAnnounce];

    public static string SystemName(string mode) => mode switch
    {
        Publish => "dragonfly",
        Url => "dragonfly-url",
        UrlAnnounce => "dragonfly-url-announce",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown mode"),
    };

    /// <summary>With <c>--tls both</c>, the plain-text run of a mode is a system of its own, named with -notls.</summary>
    public static string SystemName(string mode, Common.Cli.TlsSetting tls, bool bothSettings) =>
        SystemName(mode) + (bothSettings && tls == Common.Cli.TlsSetting.Off ? "-notls" : "");
}
