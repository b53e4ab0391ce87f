namespace Dragonfly.PubSub.Broker.Http;

/// <summary>
/// The self-contained dashboard page (<c>Dashboard/dashboard.html</c>, embedded): it follows
/// <c>GET /api/v1/dashboard/events</c> (server-sent events) and polls <c>GET /api/v1/dashboard</c> when it
/// cannot; no CDN, no external script.
/// </summary>
internal static class Dashboard
{
    private const string Resource = "Dragonfly.PubSub.Broker.Dashboard.dashboard.html";

    public static readonly string Html = Load();

    /// <summary>The page, with a red banner when the broker runs with --insecure.</summary>
    public static string Page(bool tls) => tls
        ? Html
        : Html.Replace("<!--tls-->", "<div class=\"insecure\" id=\"insecure\">running WITHOUT TLS (--insecure): every port is plain text and unauthenticated</div>", StringComparison.Ordinal);

    private static string Load()
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"the dashboard page {Resource} is not embedded in dfbroker; rebuild it");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
