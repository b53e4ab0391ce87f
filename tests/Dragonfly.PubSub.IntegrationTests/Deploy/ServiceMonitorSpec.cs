using k8s.Models;

namespace Dragonfly.PubSub.IntegrationTests.Deploy;

/// <summary>A ServiceMonitor's <c>spec</c>: which Services, and how each endpoint is scraped.</summary>
public sealed class ServiceMonitorSpec
{
    public V1LabelSelector Selector { get; set; } = new();

    public List<ServiceMonitorEndpoint> Endpoints { get; set; } = [];
}
