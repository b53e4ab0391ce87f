namespace Dragonfly.PubSub.IntegrationTests.Deploy;

/// <summary>One scrape endpoint of a ServiceMonitor (the fields the tests read; others are ignored).</summary>
public sealed class ServiceMonitorEndpoint
{
    public string Port { get; set; } = "";

    public string Path { get; set; } = "";

    public string Scheme { get; set; } = "";

    public string? Interval { get; set; }
}
