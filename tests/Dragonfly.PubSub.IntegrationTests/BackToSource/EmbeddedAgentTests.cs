using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.BackToSource;

/// <summary><c>dfget URL</c> where no daemon runs: a one-shot dfagent child joins the swarm and leaves nothing behind.</summary>
public sealed class EmbeddedAgentTests(ITestOutputHelper output)
{
    [Fact]
    public Task Dfget_NoDaemonAtDataDir_EmbeddedAgentDownloads_AndRemovesItsTempDataDir() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        var file = await TestFile.CreateAsync(nginx.WwwPath("files/oneshot.bin"), 8 * MiB + 11, seed: 341);
        var broker = await cluster.StartBrokerAsync();
        var dataDir = Directory.CreateDirectory(Path.Combine(cluster.Root, "no-daemon")).FullName;
        // Path.GetTempPath() honours TMPDIR: whatever temp data dir the one-shot agent makes is in here.
        var temp = Directory.CreateDirectory(Path.Combine(cluster.Root, "tmp")).FullName;

        var target = cluster.OutputPath("oneshot", "oneshot.bin");
        var running = cluster.RunCliAsync("dfget",
            [nginx.Http("files/oneshot.bin").AbsoluteUri, "-O", target, "--broker", broker.Ports.GrpcAddress, "--data-dir", dataDir],
            TestCluster.TransferTimeout, new Dictionary<string, string?> { ["TMPDIR"] = temp });
        // Watch TMPDIR while dfget runs, so that "nothing left there" below cannot pass vacuously.
        var sawTempDataDir = false;
        while (!running.IsCompleted)
        {
            sawTempDataDir |= Directory.EnumerateFileSystemEntries(temp).Any();
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }
        var result = await running;

        await UrlTasks.AssertDownloadedAsync(result, target, file);
        Assert.True(sawTempDataDir, $"no temp data dir appeared in TMPDIR while dfget ran; did it start an embedded agent?\n{result}");
        var leftInTemp = Directory.GetFileSystemEntries(temp, "*", SearchOption.AllDirectories);
        Assert.True(leftInTemp.Length == 0, $"the one-shot agent left {string.Join(", ", leftInTemp)} in TMPDIR:\n{result}");
        var leftInDataDir = Directory.Exists(dataDir) ? Directory.GetFileSystemEntries(dataDir, "*", SearchOption.AllDirectories) : [];
        Assert.True(leftInDataDir.Length == 0, $"the one-shot agent left {string.Join(", ", leftInDataDir)} in --data-dir:\n{result}");
        Assert.Equal([target], Directory.GetFileSystemEntries(Path.GetDirectoryName(target)!));
        UrlTasks.AssertOriginEgress(cluster, "nginx", await nginx.ServedBodyBytesAsync("/files/oneshot.bin"), file.Size);
    });

    [Fact]
    public Task Dfget_KilledWhileItsOneShotAgentRuns_TheAgentStopsToo() => TestCluster.RunAsync(output, async cluster =>
    {
        var nginx = cluster.Own(await NginxServer.StartAsync());
        await TestFile.CreateAsync(nginx.WwwPath("files/slow.bin"), 32 * MiB, seed: 342);
        var broker = await cluster.StartBrokerAsync();
        var dataDir = Directory.CreateDirectory(Path.Combine(cluster.Root, "no-daemon")).FullName;
        var temp = Directory.CreateDirectory(Path.Combine(cluster.Root, "tmp")).FullName;
        cluster.Launcher.SetEnvironment("TMPDIR", temp); // where the one-shot agent makes its data dir
        var target = cluster.OutputPath("killed", "slow.bin");

        // 1 MiB/s: the download outlasts the test's kill by far.
        var dfget = cluster.Launcher.Start("dfget", Product.Get,
            [nginx.Http("files/slow.bin").AbsoluteUri, "-O", target, "--broker", broker.Ports.GrpcAddress, "--data-dir", dataDir, "--limit", "1MiB"]);
        var agentPid = (int)await Wait.ForAsync("dfget's one-shot dfagent child", TimeSpan.FromSeconds(60), () =>
            Task.FromResult(ChildrenOf(dfget.Pid).FirstOrDefault(IsOneShotAgent) is var pid and > 0 ? (object)pid : null));
        await Wait.UntilAsync("the one-shot agent's socket in TMPDIR", TimeSpan.FromSeconds(60), () =>
            Task.FromResult(Directory.EnumerateDirectories(temp, "dfget-*").Any(d => File.Exists(Path.Combine(d, "dfagent.sock")))));

        await dfget.KillAsync(entireTree: false);
        try
        {
            await Wait.UntilAsync($"the one-shot agent (pid {agentPid}) to stop after dfget was killed", TimeSpan.FromSeconds(30),
                () => Task.FromResult(!IsOneShotAgent(agentPid)));
        }
        finally
        {
            // Only when the wait above failed: the child is the test's, stop it by its PID.
            if (IsOneShotAgent(agentPid))
            {
                System.Diagnostics.Process.GetProcessById(agentPid).Kill();
            }
        }
        Assert.False(File.Exists(target), "a killed dfget must leave no file at -O");
    });

    /// <summary>Processes whose parent is <paramref name="pid"/> (any of its threads), from /proc/*/stat.</summary>
    private static IEnumerable<int> ChildrenOf(int pid)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var candidate))
            {
                continue;
            }
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && int.TryParse(fields[1], out var parent) && parent == pid)
            {
                yield return candidate;
            }
        }
    }

    /// <summary>A live (not zombie) process whose command line is a one-shot dfagent's.</summary>
    private static bool IsOneShotAgent(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains("--exit-with-stdin", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
