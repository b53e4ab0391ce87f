using k8s;
using k8s.Models;

namespace Dragonfly.PubSub.IntegrationTests.Deploy;

/// <summary>The fields of a Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1) the tests read.</summary>
public sealed class ServiceMonitor : IKubernetesObject<V1ObjectMeta>
{
    public string ApiVersion { get; set; } = "monitoring.coreos.com/v1";

    public string Kind { get; set; } = "ServiceMonitor";

    public V1ObjectMeta Metadata { get; set; } = new();

    public ServiceMonitorSpec Spec { get; set; } = new();
}
