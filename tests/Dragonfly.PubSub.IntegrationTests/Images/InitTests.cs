using System.Text.Json;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// <c>dfagent init containerd|docker</c> under a temp <c>--root</c> (never without one: that is the
/// real /etc): the file containerd/Docker reads, a backup of what was there, nothing written by
/// <c>--dry-run</c>, and a second run that changes nothing.
/// </summary>
public sealed class InitTests(ITestOutputHelper output)
{
    private const string Registry = "127.0.0.1:5000";
    private const string Mirror = "http://127.0.0.1:4101";

    [Fact]
    public Task InitContainerd_WritesHostsToml_BacksUpTheOldOne_DryRunWritesNothing() => TestCluster.RunAsync(output, async cluster =>
    {
        var root = Directory.CreateDirectory(Path.Combine(cluster.Root, "root")).FullName;
        var hosts = Path.Combine(root, "etc", "containerd", "certs.d", Registry, "hosts.toml");
        Directory.CreateDirectory(Path.GetDirectoryName(hosts)!);
        const string Previous = "# written by hand\nserver = \"https://127.0.0.1:5000\"\n";
        await File.WriteAllTextAsync(hosts, Previous);

        // --dry-run prints what it would write and changes nothing.
        var before = Snapshot(root);
        var dry = await InitAsync(cluster, "containerd", "--registry", Registry, "--root", root, "--mirror-url", Mirror, "--dry-run");
        Assert.True(dry.ExitCode == 0, $"init --dry-run failed:\n{dry}");
        Assert.True(dry.Stdout.Contains($"[host.\"{Mirror}\"]", StringComparison.Ordinal), $"--dry-run does not print the mirror's host section:\n{dry}");
        AssertUnchanged(before, Snapshot(root), dry);

        var run = await InitAsync(cluster, "containerd", "--registry", Registry, "--root", root, "--mirror-url", Mirror);
        Assert.True(run.ExitCode == 0, $"init containerd failed:\n{run}");
        var written = await File.ReadAllTextAsync(hosts);
        Assert.True(written.Contains($"[host.\"{Mirror}\"]", StringComparison.Ordinal), $"{hosts} has no host section for the mirror:\n{written}");
        Assert.Matches("""(?m)^\s*capabilities\s*=\s*\[\s*"pull"\s*,\s*"resolve"\s*\]""", written);
        Assert.Matches("""(?m)^server\s*=\s*"https?://127\.0\.0\.1:5000"\s*$""", written);
        var backups = Directory.GetFiles(Path.GetDirectoryName(hosts)!, "hosts.toml.bak-*");
        Assert.True(backups.Length == 1, $"expected one backup of the previous hosts.toml, found: {string.Join(", ", backups)}\n{run}");
        Assert.Equal(Previous, await File.ReadAllTextAsync(backups[0]));
        Assert.True(run.Stdout.Contains(hosts, StringComparison.Ordinal), $"init does not say which file it wrote:\n{run}");

        // Again: up to date, no new backup.
        var again = Snapshot(root);
        var second = await InitAsync(cluster, "containerd", "--registry", Registry, "--root", root, "--mirror-url", Mirror);
        Assert.True(second.ExitCode == 0, $"a second init failed:\n{second}");
        AssertUnchanged(again, Snapshot(root), second);

        // --dry-run under an empty root creates nothing at all.
        var empty = Directory.CreateDirectory(Path.Combine(cluster.Root, "empty-root")).FullName;
        var dryEmpty = await InitAsync(cluster, "containerd", "--registry", Registry, "--root", empty, "--mirror-url", Mirror, "--dry-run");
        Assert.True(dryEmpty.ExitCode == 0, $"init --dry-run under an empty root failed:\n{dryEmpty}");
        Assert.True(Directory.GetFileSystemEntries(empty).Length == 0, $"--dry-run created {string.Join(", ", Directory.GetFileSystemEntries(empty, "*", SearchOption.AllDirectories))}");
    });

    [Fact]
    public Task InitDocker_PutsTheMirrorFirst_KeepsTheRest_BacksUp_DryRunWritesNothing() => TestCluster.RunAsync(output, async cluster =>
    {
        var root = Directory.CreateDirectory(Path.Combine(cluster.Root, "root")).FullName;
        var daemon = Path.Combine(root, "etc", "docker", "daemon.json");
        Directory.CreateDirectory(Path.GetDirectoryName(daemon)!);
        const string Previous = """{ "log-driver": "json-file", "registry-mirrors": ["https://mirror.example.com"] }""";
        await File.WriteAllTextAsync(daemon, Previous);

        var before = Snapshot(root);
        var dry = await InitAsync(cluster, "docker", "--root", root, "--mirror-url", Mirror, "--dry-run");
        Assert.True(dry.ExitCode == 0, $"init docker --dry-run failed:\n{dry}");
        AssertUnchanged(before, Snapshot(root), dry);

        var run = await InitAsync(cluster, "docker", "--root", root, "--mirror-url", Mirror);
        Assert.True(run.ExitCode == 0, $"init docker failed:\n{run}");
        using var written = JsonDocument.Parse(await File.ReadAllTextAsync(daemon));
        var mirrors = written.RootElement.GetProperty("registry-mirrors").EnumerateArray().Select(m => m.GetString()!.TrimEnd('/')).ToList();
        Assert.Equal([Mirror, "https://mirror.example.com"], mirrors);
        Assert.Equal("json-file", written.RootElement.GetProperty("log-driver").GetString());
        var backups = Directory.GetFiles(Path.GetDirectoryName(daemon)!, "daemon.json.bak-*");
        Assert.True(backups.Length == 1, $"expected one backup of the previous daemon.json, found: {string.Join(", ", backups)}\n{run}");
        Assert.Equal(Previous, await File.ReadAllTextAsync(backups[0]));
    });

    /// <summary><c>dfagent init KIND ARGS</c>; refuses to run without <c>--root</c>, which would write the real /etc.</summary>
    private static Task<CliResult> InitAsync(TestCluster cluster, string kind, params string[] args)
    {
        var root = Array.IndexOf(args, "--root");
        if (root < 0 || !args[root + 1].StartsWith(cluster.Root, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("dfagent init must run with --root under the test's temp root");
        }
        return cluster.RunCliAsync("dfagent", ["init", kind, .. args], TimeSpan.FromSeconds(30));
    }

    /// <summary>Every file under <paramref name="root"/> with its content.</summary>
    private static SortedDictionary<string, string> Snapshot(string root) =>
        new(Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllText), StringComparer.Ordinal);

    private static void AssertUnchanged(SortedDictionary<string, string> before, SortedDictionary<string, string> after, CliResult result)
    {
        Assert.True(before.Keys.SequenceEqual(after.Keys), $"the files changed: before {string.Join(", ", before.Keys)}; after {string.Join(", ", after.Keys)}\n{result}");
        foreach (var (path, content) in before)
        {
            Assert.True(after[path] == content, $"{path} changed:\n{after[path]}\n{result}");
        }
    }
}
