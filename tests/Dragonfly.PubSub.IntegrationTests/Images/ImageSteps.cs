using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.IntegrationTests.BackToSource;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// The steps of the image tests: <c>dfpub preheat</c>, skopeo pulls through an agent's mirror,
/// and what an agent's cache (its task list and content store) and the data on disk must show.
/// </summary>
public static class ImageSteps
{
    public const string Topic = "images/app";

    /// <summary>
    /// <c>dfpub preheat REF --topic T --platform P --broker-url https://127.0.0.1:&lt;http&gt; --json EXTRA</c>
    /// against the cluster's broker (or <paramref name="brokerUrl"/>), with the test's admin certificate
    /// (<c>http://</c> and no certificate with DFIT_INSECURE=1).
    /// </summary>
    public static Task<CliResult> PreheatAsync(
        this TestCluster cluster, string reference, string? platform, string topic = Topic, string? brokerUrl = null, params string[] extraArgs)
    {
        List<string> args = ["preheat", reference, "--topic", topic];
        if (platform is not null)
        {
            args.AddRange(["--platform", platform]);
        }
        args.AddRange(["--broker-url", brokerUrl ?? cluster.Broker.HttpUrl.AbsoluteUri, "--json", .. cluster.Broker.Fleet?.TlsArgs ?? [], .. extraArgs]);
        return cluster.RunCliAsync("dfpub", args, TimeSpan.FromSeconds(60));
    }

    /// <summary>The job <c>dfpub preheat --json</c> printed.</summary>
    public static JsonElement Job(CliResult result) => UrlTasks.Json(result);

    /// <summary>Waits until the agent is connected to the broker over gRPC and MQTT (<c>GET /api/v1/status</c>).</summary>
    public static Task WaitUntilConnectedAsync(this AgentProcess agent) =>
        Wait.UntilAsync($"{agent.Name} to connect to the broker (gRPC and MQTT)", TimeSpan.FromSeconds(30), async () =>
        {
            using var status = JsonDocument.Parse(await agent.Http.GetStringAsync("api/v1/status"));
            return status.RootElement.GetProperty("brokerConnected").GetBoolean() && status.RootElement.GetProperty("mqttConnected").GetBoolean();
        }, guard: agent.ThrowIfCrashed);

    /// <summary>Waits until the agent lists every one of <paramref name="digests"/> as succeeded; fails at once on a failed one.</summary>
    public static Task WaitForBlobsAsync(this AgentProcess agent, IEnumerable<string> digests, TimeSpan timeout)
    {
        var wanted = digests.ToHashSet(StringComparer.Ordinal);
        IReadOnlyList<AgentTask> last = [];
        return Wait.UntilAsync($"{agent.Name} to hold {wanted.Count} blobs", timeout, async () =>
        {
            last = await agent.GetTasksAsync();
            if (last.FirstOrDefault(t => wanted.Contains(t.Digest) && t.State == "failed") is { } failed)
            {
                throw new Xunit.Sdk.XunitException($"{agent.Name} failed to fetch blob {failed}");
            }
            return wanted.All(d => last.Any(t => t.Digest == d && t.State == "succeeded"));
        }, guard: agent.ThrowIfCrashed, describe: () => last.Count == 0 ? "no tasks" : string.Join(" | ", last));
    }

    /// <summary>
    /// The agent's task list holds exactly <paramref name="expected"/> (nothing else, e.g. no blob of
    /// another platform), each succeeded with its size, its <c>path</c> a content-store file that
    /// hashes to the digest; and nothing was written under the output dir (image blobs are cache only).
    /// </summary>
    public static async Task AssertHoldsExactlyAsync(this AgentProcess agent, PushedImage pushed, IReadOnlyCollection<string> expected)
    {
        var tasks = await agent.GetTasksAsync();
        var listed = string.Join("\n  ", tasks.Select(t => $"{pushed.Describe(t.Digest)} {t}"));
        var unexpected = tasks.Where(t => !expected.Contains(t.Digest)).Select(t => pushed.Describe(t.Digest)).ToList();
        Assert.True(unexpected.Count == 0, $"{agent.Name} holds tasks that were not asked for: {string.Join(", ", unexpected)}; its tasks:\n  {listed}");
        foreach (var digest in expected)
        {
            var task = tasks.SingleOrDefault(t => t.Digest == digest);
            Assert.True(task is not null, $"{agent.Name} has no task for {pushed.Describe(digest)}; its tasks:\n  {listed}");
            Assert.True(task.State == "succeeded", $"{agent.Name}: {pushed.Describe(digest)} is {task}");
            var size = pushed.Image.Size(Digest(digest));
            Assert.True(task.Size == size, $"{agent.Name}: {pushed.Describe(digest)} has size {task.Size}, the blob has {size}");
            Assert.True(task.Path is not null && File.Exists(task.Path),
                $"{agent.Name}: {pushed.Describe(digest)} lists path '{task.Path}', which is not a file (it should be the content-store path)");
            Assert.True(task.Path.StartsWith(agent.DataDir, StringComparison.Ordinal),
                $"{agent.Name}: {pushed.Describe(digest)} lists path {task.Path}, outside the data dir {agent.DataDir} (image blobs stay in the content store)");
            var hash = "sha256:" + await TestFile.HashAsync(task.Path);
            Assert.True(hash == digest, $"{agent.Name}: {task.Path} hashes to {hash}, not to the blob's digest {digest}");
        }
        var outputs = Directory.Exists(agent.OutputDir) ? Directory.GetFiles(agent.OutputDir, "*", SearchOption.AllDirectories) : [];
        Assert.True(outputs.Length == 0, $"{agent.Name} wrote image blobs under its output dir (they are cache only): {string.Join(", ", outputs)}");
    }

    /// <summary>No agent lists any task and none has a file under its output dir.</summary>
    public static async Task AssertNothingCachedAsync(IEnumerable<AgentProcess> agents, string after)
    {
        foreach (var agent in agents)
        {
            var tasks = await agent.GetTasksAsync();
            Assert.True(tasks.Count == 0, $"after {after}, {agent.Name} lists tasks: {string.Join(" | ", tasks)}");
            var outputs = Directory.Exists(agent.OutputDir) ? Directory.GetFiles(agent.OutputDir, "*", SearchOption.AllDirectories) : [];
            Assert.True(outputs.Length == 0, $"after {after}, {agent.Name} has files under its output dir: {string.Join(", ", outputs)}");
        }
    }

    /// <summary>
    /// <c>skopeo copy --src-tls-verify=false docker://127.0.0.1:&lt;mirror&gt;/REF oci:DIR:TAG --override-arch ARCH</c>
    /// through the agent's registry mirror (no retries: a failure shows at once).
    /// </summary>
    public static Task<ProcessResult> PullThroughMirrorAsync(
        this TestCluster cluster, PushedImage pushed, AgentProcess agent, string reference, string directory, string architecture, string? credentials)
    {
        List<string> args = ["copy", "--retry-times", "0", "--src-tls-verify=false", "--override-os", "linux", "--override-arch", architecture];
        if (credentials is not null)
        {
            args.AddRange(["--src-creds", credentials]);
        }
        args.AddRange([$"docker://127.0.0.1:{agent.ProxyPort}/{reference}", $"oci:{directory}:{PushedImage.Tag}"]);
        cluster.Log($"skopeo pull of {reference} ({architecture}) through {agent.Name}'s mirror on port {agent.ProxyPort}{(credentials is null ? "" : " with --src-creds")}");
        return pushed.Skopeo.RunAsync(args);
    }

    /// <summary>The blobs an OCI layout directory written by skopeo holds.</summary>
    public static IReadOnlySet<string> LayoutBlobs(string directory)
    {
        var blobs = Path.Combine(directory, "blobs", "sha256");
        return Directory.Exists(blobs)
            ? Directory.GetFiles(blobs).Select(f => "sha256:" + Path.GetFileName(f)).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);
    }

    /// <summary>Stops the agents, then the broker, with SIGTERM: what they keep on disk is written by then.</summary>
    public static async Task StopAllAsync(TestCluster cluster, IEnumerable<AgentProcess> agents)
    {
        await Task.WhenAll(agents.Select(a => a.Process.StopAsync()));
        await cluster.Broker.Process.StopAsync();
    }

    /// <summary>
    /// Every file under <paramref name="roots"/> (logs, data dirs with their LiteDB files) that
    /// contains one of <paramref name="secrets"/> as UTF-8 or UTF-16 bytes.
    /// </summary>
    public static IReadOnlyList<string> FilesContaining(IEnumerable<string> roots, IReadOnlyCollection<string> secrets)
    {
        var needles = secrets.SelectMany(s => new[] { Encoding.UTF8.GetBytes(s), Encoding.Unicode.GetBytes(s) }).ToList();
        var hits = new List<string>();
        foreach (var root in roots.Where(Directory.Exists))
        {
            foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            {
                byte[] bytes;
                try
                {
                    bytes = File.ReadAllBytes(file);
                }
                catch (IOException)
                {
                    continue; // a socket or a file being replaced
                }
                if (needles.Any(n => bytes.AsSpan().IndexOf(n) >= 0))
                {
                    hits.Add(file);
                }
            }
        }
        return hits;
    }

    public static ContentDigest Digest(string text) =>
        ContentDigest.TryParse(text, out var digest) ? digest.Value : throw new ArgumentException($"not a digest: {text}", nameof(text));

    /// <summary>The job's <c>blobs</c> as (digest, state, error) for assertions.</summary>
    public static IReadOnlyList<(string Digest, string State, string? Error, long Size, IReadOnlyList<string> Platforms)> Blobs(JsonElement job) =>
        [.. job.GetProperty("blobs").EnumerateArray().Select(b => (
            b.GetProperty("digest").GetString()!,
            b.GetProperty("state").GetString()!,
            b.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null,
            b.GetProperty("size").GetInt64(),
            (IReadOnlyList<string>)[.. b.GetProperty("platforms").EnumerateArray().Select(p => p.GetString()!)]))];

    /// <summary>The broker's preheat jobs (<c>GET /api/v1/preheat</c>).</summary>
    public static async Task<IReadOnlyList<JsonElement>> PreheatJobsAsync(this BrokerProcess broker) =>
        await broker.Http.GetFromJsonAsync<List<JsonElement>>("api/v1/preheat") ?? [];
}
