using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using k8s.Models;

namespace Dragonfly.PubSub.IntegrationTests.Deploy;

/// <summary>
/// deploy/kubernetes: every overlay renders with <c>kubectl kustomize</c> (offline), and the objects
/// it renders, read as typed Kubernetes objects, hold together: ports as the contract names them,
/// probes on /healthz, a volume for every mount, the data dirs where the programs are told to keep
/// their data, and only flags the programs have.
/// </summary>
public sealed class KustomizeTests
{
    public static TheoryData<string> Overlays => new() { "production", "dev" };

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Overlay_Broker_HasTheContractPorts_ProbesOnHealthz_AndItsDataOnItsVolume(string overlay)
    {
        var objects = await RenderAsync(overlay);
        var broker = Single<V1StatefulSet>(objects, "dfbroker");
        var container = Assert.Single(broker.Spec.Template.Spec.Containers);
        var service = Single<V1Service>(objects, "dfbroker");
        var secure = overlay != "dev";

        Assert.Equal(1, broker.Spec.Replicas);
        var ports = container.Ports.ToDictionary(p => p.Name, p => p.ContainerPort);
        Assert.Equal(8002, ports["grpc"]);
        Assert.Equal(8080, ports["http"]);
        Assert.Equal(secure ? 8883 : 1883, secure ? ports["mqtts"] : ports["mqtt"]);
        Assert.DoesNotContain(secure ? "mqtt" : "mqtts", ports.Keys);
        foreach (var port in service.Spec.Ports)
        {
            // Each Service port reaches the container port of its name, on the same number.
            Assert.True(ports.TryGetValue(port.TargetPort.Value, out var target) && target == port.Port,
                $"Service dfbroker port {port.Name} ({port.Port}) targets '{port.TargetPort.Value}', which the broker does not expose on {port.Port}");
        }
        foreach (var probe in new[] { container.ReadinessProbe, container.LivenessProbe })
        {
            Assert.Equal("/healthz", probe.HttpGet.Path);
            Assert.Equal("http", probe.HttpGet.Port.Value);
            Assert.Equal(secure ? "HTTPS" : "HTTP", probe.HttpGet.Scheme);
        }
        Assert.Equal(secure, !container.Args.Contains("--insecure"));

        var dataDir = ArgAfter(container.Args, "--data-dir");
        var claims = broker.Spec.VolumeClaimTemplates.Select(c => c.Metadata.Name).ToList();
        Assert.Contains(container.VolumeMounts, m => m.MountPath == dataDir && claims.Contains(m.Name));
        AssertEveryMountHasAVolume(broker.Spec.Template.Spec, claims);
        await AssertFlagsKnownAsync("dfbroker", container.Args);
        Assert.Equal(["/opt/dragonfly/dfbroker"], container.Command);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem == true && broker.Spec.Template.Spec.SecurityContext.RunAsNonRoot == true, "the broker should run as non-root with a read-only root");
        Assert.NotNull(container.Resources.Requests["cpu"]);
        Assert.NotNull(container.Resources.Requests["memory"]);

        var budget = Single<V1PodDisruptionBudget>(objects, "dfbroker");
        Assert.Equal(broker.Spec.Selector.MatchLabels, budget.Spec.Selector.MatchLabels);
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public async Task Overlay_Agent_MountsItsHostDataDir_SetsUpContainerd_AndProbesHealthz(string overlay)
    {
        var objects = await RenderAsync(overlay);
        var agents = Single<V1DaemonSet>(objects, "dfagent");
        var pod = agents.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);
        var secure = overlay != "dev";

        Assert.True(pod.HostNetwork, "the agent needs the host network: containerd pulls through its mirror on the node's 127.0.0.1");
        var dataDir = ArgAfter(container.Args, "--data-dir");
        var dataMount = Assert.Single(container.VolumeMounts, m => m.MountPath == dataDir);
        var dataVolume = Assert.Single(pod.Volumes, v => v.Name == dataMount.Name);
        Assert.NotNull(dataVolume.HostPath);
        Assert.Equal("DirectoryOrCreate", dataVolume.HostPath.Type);
        AssertEveryMountHasAVolume(pod, []);

        var peer = Assert.Single(container.Ports);
        Assert.Equal(4000, peer.ContainerPort);
        Assert.Equal(4000, peer.HostPort);
        foreach (var probe in new[] { container.ReadinessProbe, container.LivenessProbe })
        {
            Assert.Equal("/healthz", probe.HttpGet.Path);
            Assert.Equal("4002", probe.HttpGet.Port.Value);
            Assert.Equal("127.0.0.1", probe.HttpGet.Host);
        }

        var broker = ArgAfter(container.Args, "--broker");
        var service = Single<V1Service>(objects, "dfbroker");
        Assert.Equal($"{service.Metadata.Name}.{service.Metadata.NamespaceProperty}.svc.cluster.local:8002", broker);
        Assert.Contains(service.Spec.Ports, p => p.Port == 8002);
        await AssertFlagsKnownAsync("dfagent", container.Args);
        Assert.Equal(container.Image, Assert.Single(pod.InitContainers).Image);

        var init = Assert.Single(pod.InitContainers);
        Assert.Equal(["init", "containerd"], init.Args.Take(2));
        var root = ArgAfter(init.Args, "--root");
        var certs = Assert.Single(init.VolumeMounts);
        Assert.Equal($"{root}/etc/containerd/certs.d", certs.MountPath);
        Assert.Equal("/etc/containerd/certs.d", Assert.Single(pod.Volumes, v => v.Name == certs.Name).HostPath.Path);
        var initHelp = await ProcessRunner.RunAsync(Product.Agent, [.. init.Args.Take(2), "--help"]);
        Assert.True(initHelp.ExitCode == 0, $"'dfagent init containerd' is not a command of this dfagent:\n{initHelp.Output}");
        await AssertFlagsKnownAsync("dfagent", init.Args, "init", "containerd");

        if (secure)
        {
            // The join token: a file from the Secret, under the mount the flag points into.
            var tokenFile = ArgAfter(container.Args, "--token-file");
            var tokenMount = Assert.Single(container.VolumeMounts, m => tokenFile.StartsWith(m.MountPath + "/", StringComparison.Ordinal));
            Assert.Equal("dragonfly-agent-token", Assert.Single(pod.Volumes, v => v.Name == tokenMount.Name).Secret.SecretName);
            Assert.DoesNotContain("--insecure", container.Args);
        }
        else
        {
            Assert.Contains("--insecure", container.Args);
            Assert.DoesNotContain(pod.Volumes, v => v.Secret is not null);
        }
    }

    [Fact]
    public async Task Production_ScrapesTheBrokersMetricsWithAServiceMonitor_AndPinsItsImages()
    {
        var objects = await RenderAsync("production");
        var monitor = Assert.Single(objects.OfType<ServiceMonitor>());
        var service = Single<V1Service>(objects, "dfbroker");

        var endpoint = Assert.Single(monitor.Spec.Endpoints);
        Assert.Equal("/metrics", endpoint.Path);
        Assert.Equal("https", endpoint.Scheme);
        Assert.Contains(service.Spec.Ports, p => p.Name == endpoint.Port && p.Port == 8080);
        Assert.All(monitor.Spec.Selector.MatchLabels, l => Assert.Equal(l.Value, service.Metadata.Labels[l.Key]));
        var images = objects.OfType<V1StatefulSet>().SelectMany(s => s.Spec.Template.Spec.Containers)
            .Concat(objects.OfType<V1DaemonSet>().SelectMany(d => d.Spec.Template.Spec.Containers.Concat(d.Spec.Template.Spec.InitContainers)))
            .Select(c => c.Image).ToList();
        Assert.All(images, image => Assert.Matches(@"^registry\.example\.com/dragonfly/df(broker|agent):0\.1\.0$", image));
    }

    private static async Task<IReadOnlyList<object>> RenderAsync(string overlay)
    {
        var path = Path.Combine(Product.RepoRoot, "deploy", "kubernetes", "overlays", overlay);
        var result = await ProcessRunner.RunAsync("kubectl", ["kustomize", path]);
        Assert.True(result.ExitCode == 0, $"kubectl kustomize {path} failed:\n{result.Output}");
        return k8s.KubernetesYaml.LoadAllFromString(result.Stdout, new Dictionary<string, Type>
        {
            ["monitoring.coreos.com/v1/ServiceMonitor"] = typeof(ServiceMonitor),
        });
    }

    private static T Single<T>(IReadOnlyList<object> objects, string name) where T : k8s.IKubernetesObject<V1ObjectMeta> =>
        Assert.Single(objects.OfType<T>(), o => o.Metadata.Name == name);

    private static string ArgAfter(IList<string> args, string flag)
    {
        var index = args.IndexOf(flag);
        Assert.True(index >= 0 && index + 1 < args.Count, $"{flag} is not among the arguments {string.Join(' ', args)}");
        return args[index + 1];
    }

    private static void AssertEveryMountHasAVolume(V1PodSpec pod, IReadOnlyList<string> claimTemplates)
    {
        var volumes = pod.Volumes.Select(v => v.Name).Concat(claimTemplates).ToHashSet(StringComparer.Ordinal);
        foreach (var container in pod.Containers.Concat(pod.InitContainers ?? []))
        {
            foreach (var mount in container.VolumeMounts)
            {
                Assert.True(volumes.Contains(mount.Name), $"container {container.Name} mounts volume '{mount.Name}', which the pod does not have");
            }
        }
    }

    /// <summary>Every <c>--flag</c> in <paramref name="args"/> is one the program's help lists.</summary>
    private static async Task AssertFlagsKnownAsync(string program, IList<string> args, params string[] command)
    {
        var help = await ProcessRunner.RunAsync(Product.ByName(program), [.. command, "--help"]);
        Assert.Equal(0, help.ExitCode);
        foreach (var flag in args.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
        {
            Assert.True(help.Stdout.Contains(flag + " ", StringComparison.Ordinal), $"the manifest passes {flag} to '{string.Join(' ', [program, .. command])}', whose --help does not list it");
        }
    }
}
