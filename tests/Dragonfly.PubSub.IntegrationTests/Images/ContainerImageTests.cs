using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using k8s.Models;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// The container images of <c>eng/images.sh</c> (issue 13), built once (<see cref="ContainerImages"/>) and pushed
/// to a local docker-registry: one index per component with both platforms, a non-root user, OCI labels, and
/// programs that really run from the image's own files under chroot: <c>--version</c> of every program on both
/// architectures (arm64 under qemu-user-static), and on amd64 a broker and two agents delivering a verified file.
/// TLS pass only: the images do not depend on the mode (in the DFIT_INSECURE=1 pass every test returns at once).
/// </summary>
public sealed class ContainerImageTests(ContainerImages images, ITestOutputHelper output) : IClassFixture<ContainerImages>
{
    private const int ImageUser = 65532;
    private static readonly string[] AgentPrograms = ["dfagent", "dfpub", "dfget"];

    [Fact]
    public async Task Registry_HoldsAnIndexPerComponent_WithALinuxAmd64AndALinuxArm64Image_AndItsLabels()
    {
        if (!Built())
        {
            return;
        }
        output.WriteLine(images.ScriptOutput);
        foreach (var component in ContainerImages.Components)
        {
            var inspect = await images.Skopeo.RunAsync(["inspect", "--raw", "--tls-verify=false", $"docker://{images.Reference(component)}"]);
            Assert.True(inspect.ExitCode == 0, $"skopeo inspect --raw {images.Reference(component)}:\n{inspect.Output}");
            using var index = JsonDocument.Parse(inspect.Stdout);
            Assert.Equal("application/vnd.oci.image.index.v1+json", index.RootElement.GetProperty("mediaType").GetString());
            var platforms = index.RootElement.GetProperty("manifests").EnumerateArray()
                .Select(m => $"{m.GetProperty("platform").GetProperty("os").GetString()}/{m.GetProperty("platform").GetProperty("architecture").GetString()}")
                .Order(StringComparer.Ordinal).ToList();
            Assert.Equal(["linux/amd64", "linux/arm64"], platforms);
            AssertLabels(index.RootElement.GetProperty("annotations"), component);
            // The digest the script printed is the one the registry serves (skopeo kept the layout's bytes).
            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(inspect.Stdout)));
            Assert.Equal(images.IndexDigests[component], digest);
        }
    }

    [Fact]
    public async Task EveryImage_IsOfItsArchitecture_RunsAsTheNonRootUserOfItsPasswd_WithItsProgramAsEntrypoint()
    {
        if (!Built())
        {
            return;
        }
        foreach (var component in ContainerImages.Components)
        {
            foreach (var arch in ContainerImages.Architectures)
            {
                var image = images[component, arch];
                Assert.Equal(arch, image.Architecture);
                Assert.Equal($"{ImageUser}:{ImageUser}", image.User);
                Assert.Contains($"dragonfly:x:{ImageUser}:{ImageUser}:", File.ReadAllText(image.PathOf("/etc/passwd")), StringComparison.Ordinal);
                Assert.Equal(["/opt/dragonfly/" + component], image.Entrypoint);
                AssertLabels(JsonSerializer.SerializeToElement(image.Labels), component);
                // The data dir the image's environment names is the image user's; the programs are root's, read-only to it.
                Assert.Equal($"{ImageUser}:{ImageUser}", await OwnerAsync(image.PathOf("/var/lib/dragonfly")));
                Assert.Equal("0:0", await OwnerAsync(image.PathOf("/opt/dragonfly/" + component)));
                Assert.Contains(image.Env, e => e.StartsWith(component == "dfagent" ? "DRAGONFLY_DATA_DIR=/var/lib/dragonfly/" : "DFBROKER_DATA_DIR=/var/lib/dragonfly/", StringComparison.Ordinal));
                Assert.True(File.Exists(image.PathOf("/etc/ssl/certs/ca-certificates.crt")), $"{component} {arch} has no CA bundle");
                foreach (var program in component == "dfagent" ? AgentPrograms : [component])
                {
                    Assert.Equal(arch, ElfArchitecture(image.PathOf("/opt/dragonfly/" + program)));
                }
            }
        }
    }

    [Fact]
    public async Task Amd64Images_EveryProgramPrintsItsVersion_InAChroot_AsTheImageUser()
    {
        if (!Built())
        {
            return;
        }
        foreach (var component in ContainerImages.Components)
        {
            var image = images[component, "amd64"];
            using var mounts = ChrootMounts.Create(image.Rootfs);
            foreach (var program in component == "dfagent" ? AgentPrograms : [component])
            {
                var run = await ProcessRunner.RunAsync("/usr/sbin/chroot", [$"--userspec={ImageUser}:{ImageUser}", image.Rootfs, "/opt/dragonfly/" + program, "--version"]);
                output.WriteLine($"amd64 {program} --version: exit {run.ExitCode}: {run.Output.Trim()}");
                AssertVersion(run, program, "amd64");
            }
        }
    }

    [Fact]
    public async Task Arm64Images_EveryProgramPrintsItsVersion_InAChroot_UnderQemuUserStatic()
    {
        if (!Built())
        {
            return;
        }
        const string Qemu = "/usr/bin/qemu-aarch64-static";
        Assert.True(File.Exists(Qemu), $"{Qemu} is missing: install Debian's qemu-user-static (eng/test.sh does)");
        // With a binfmt_misc entry that holds its interpreter open (flag F) the kernel runs arm64 programs in the
        // chroot by itself; otherwise (as on this machine: binfmt_misc not mounted) qemu runs them explicitly.
        var binfmt = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
        var viaBinfmt = File.Exists(binfmt) && File.ReadAllText(binfmt) is var entry
            && entry.StartsWith("enabled", StringComparison.Ordinal) && entry.Contains("flags: F", StringComparison.Ordinal);
        output.WriteLine(viaBinfmt ? "arm64 programs run through the machine's binfmt_misc entry" : $"no usable binfmt_misc entry: running {Qemu} explicitly");
        foreach (var component in ContainerImages.Components)
        {
            var image = images[component, "arm64"];
            // Into the test's unpacked copy only: the image holds no emulator.
            File.Copy(Qemu, image.PathOf(Qemu), overwrite: true);
            using var mounts = ChrootMounts.Create(image.Rootfs);
            foreach (var program in component == "dfagent" ? AgentPrograms : [component])
            {
                string[] command = viaBinfmt ? ["/opt/dragonfly/" + program] : [Qemu, "/opt/dragonfly/" + program];
                var run = await ProcessRunner.RunAsync("/usr/sbin/chroot", [$"--userspec={ImageUser}:{ImageUser}", image.Rootfs, .. command, "--version"],
                    timeout: TimeSpan.FromMinutes(2));
                output.WriteLine($"arm64 {program} --version: exit {run.ExitCode}: {run.Output.Trim()}");
                AssertVersion(run, program, "arm64");
            }
        }
    }

    [Fact]
    public Task Amd64Images_ABrokerAndTwoAgentsFromTheImagesFileSystems_DeliverAVerifiedFile() => TestCluster.RunAsync(output, async cluster =>
    {
        if (!Built())
        {
            return;
        }
        var broker = images["dfbroker", "amd64"];
        var agent = images["dfagent", "amd64"];
        // The cluster's root (data dirs, sockets, outputs, the test's TLS files) at the same path inside both
        // images; unmounted when the cluster ends, after its processes are killed, also on failure.
        cluster.Own(ChrootMounts.Create(broker.Rootfs, cluster.Root));
        cluster.Own(ChrootMounts.Create(agent.Rootfs, cluster.Root));
        cluster.Launcher.RunFromImage("dfbroker", broker.Rootfs);
        foreach (var program in AgentPrograms)
        {
            cluster.Launcher.RunFromImage(program, agent.Rootfs);
        }

        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscriber = await cluster.StartAgentAsync("sub", ["images-it/#"]);
        var file = await cluster.CreateFileAsync("app.bin", 8 * 1024 * 1024, seed: 13);
        await cluster.PublishAsync(publisher, file, "images-it/app");
        var arrival = Assert.Single(await cluster.WaitForFileOnAllAsync([subscriber], "images-it/app", file));
        Assert.Empty(arrival.Anomalies);
        output.WriteLine($"8 MiB delivered to the subscriber in {arrival.Elapsed.TotalSeconds:0.0} s");

        // dfget (Native AOT) from the agent image, through the subscriber's socket: the same bytes.
        var copy = Path.Combine(cluster.Root, "got", "app.bin");
        var dfget = await cluster.RunCliAsync("dfget", [file.Digest, "-O", copy, "--data-dir", subscriber.DataDir]);
        Assert.True(dfget.ExitCode == 0, $"dfget from the image failed:\n{dfget}");
        Assert.Equal(file.Sha256Hex, await TestFile.HashAsync(copy));

        // Each process is the image's program, run with the image's root as its own.
        foreach (var (process, image, program) in new[] { (cluster.Broker.Process, broker, "dfbroker"), (publisher.Process, agent, "dfagent"), (subscriber.Process, agent, "dfagent") })
        {
            Assert.Equal(image.Rootfs, new FileInfo($"/proc/{process.Pid}/root").LinkTarget);
            Assert.Equal(image.PathOf("/opt/dragonfly/" + program), new FileInfo($"/proc/{process.Pid}/exe").LinkTarget);
        }
    });

    [Fact]
    public async Task KubernetesManifests_RunThePushedImagesPrograms_AsTheirUsers()
    {
        if (!Built())
        {
            return;
        }
        foreach (var overlay in new[] { "dev", "production" })
        {
            var path = Path.Combine(Product.RepoRoot, "deploy", "kubernetes", "overlays", overlay);
            var render = await ProcessRunner.RunAsync("kubectl", ["kustomize", path]);
            Assert.True(render.ExitCode == 0, $"kubectl kustomize {path}:\n{render.Output}");
            var objects = k8s.KubernetesYaml.LoadAllFromString(render.Stdout, new Dictionary<string, Type>
            {
                ["monitoring.coreos.com/v1/ServiceMonitor"] = typeof(Deploy.ServiceMonitor),
            });
            var pods = objects.OfType<V1StatefulSet>().Select(s => s.Spec.Template.Spec)
                .Concat(objects.OfType<V1DaemonSet>().Select(d => d.Spec.Template.Spec)).ToList();
            foreach (var pod in pods)
            {
                foreach (var container in pod.Containers.Concat(pod.InitContainers ?? []))
                {
                    // <registry>/dragonfly/<component>:<tag>, as the script pushes with --registry <registry>/dragonfly.
                    var repository = container.Image.Split(':')[^2].Split('/');
                    Assert.Equal(ContainerImages.RegistryPath, repository[^2]);
                    var component = repository[^1];
                    Assert.Contains(component, ContainerImages.Components);
                    var image = images[component, "amd64"];
                    Assert.True(File.Exists(image.PathOf(container.Command[0])), $"{overlay}: {container.Name} runs {container.Command[0]}, which the {component} image does not have");
                    var user = container.SecurityContext?.RunAsUser ?? pod.SecurityContext?.RunAsUser;
                    // Root only where the manifest says why (the agent writes host paths); otherwise the image's user.
                    Assert.True(user == 0 || user == ImageUser, $"{overlay}: {container.Name} runs as uid {user}, not the image's {ImageUser}");
                }
            }
            Assert.Equal((long?)ImageUser, Assert.Single(objects.OfType<V1StatefulSet>()).Spec.Template.Spec.SecurityContext.RunAsUser);
        }
    }

    private bool Built()
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: the images are built and checked in the TLS pass only (they do not depend on the mode)");
            return false;
        }
        Assert.True(images.Built, "the images were not built");
        return true;
    }

    private void AssertLabels(JsonElement labels, string component)
    {
        Assert.Equal(ContainerImages.Source, labels.GetProperty("org.opencontainers.image.source").GetString());
        Assert.Equal(ContainerImages.Version, labels.GetProperty("org.opencontainers.image.version").GetString());
        Assert.Equal(images.Revision, labels.GetProperty("org.opencontainers.image.revision").GetString());
        Assert.Equal(component, labels.GetProperty("org.opencontainers.image.title").GetString());
        Assert.True(DateTimeOffset.TryParse(labels.GetProperty("org.opencontainers.image.created").GetString(), out _), "created is no RFC 3339 time");
    }

    private void AssertVersion(ProcessResult run, string program, string arch)
    {
        Assert.True(run.ExitCode == 0, $"{arch} {program} --version exited {run.ExitCode}:\n{run.Output}");
        // The image's version, and the commit it was built from (the SDK appends it: 0.1.0-it+<sha>).
        Assert.Equal($"{ContainerImages.Version}+{images.Revision}", run.Stdout.Trim());
    }

    private static async Task<string> OwnerAsync(string path) => (await ProcessRunner.RunAsync("stat", ["-c", "%u:%g", path])).Stdout.Trim();

    /// <summary>The machine an ELF file is for, from its header's e_machine (offset 18).</summary>
    private static string ElfArchitecture(string path)
    {
        var header = new byte[20];
        using (var file = File.OpenRead(path))
        {
            file.ReadExactly(header);
        }
        Assert.True(header.AsSpan(0, 4).SequenceEqual("\u007fELF"u8), $"{path} is not an ELF executable");
        return BitConverter.ToUInt16(header, 18) switch
        {
            0x3E => "amd64",
            0xB7 => "arm64",
            var other => $"e_machine 0x{other:X}",
        };
    }
}
