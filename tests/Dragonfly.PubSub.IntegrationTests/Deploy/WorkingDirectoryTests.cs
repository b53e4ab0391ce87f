using System.Globalization;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.IntegrationTests.Deploy;

/// <summary>
/// The daemons watch nothing in the directory they run in. ASP.NET Core's defaults watched the
/// working directory and everything below it with inotify (to reload an appsettings.json we never
/// read): under systemd, whose units start in "/", that is the whole file system, and an agent run
/// in its data dir was woken for every piece it wrote.
/// </summary>
public sealed class WorkingDirectoryTests(ITestOutputHelper output)
{
    [Fact]
    public Task BrokerAndAgent_WatchNoDirectoryBelowTheirWorkingDirectory() => TestCluster.RunAsync(output, async cluster =>
    {
        // Directories below the working directory, as a data dir or a file system would have.
        for (var i = 0; i < 3; i++)
        {
            Directory.CreateDirectory(Path.Combine(cluster.Launcher.LogDir, $"below-{i}", "deeper"));
        }
        var broker = await cluster.StartBrokerAsync();
        var agent = await cluster.StartAgentAsync("agent");

        foreach (var process in new[] { broker.Process, agent.Process })
        {
            var cwd = new DirectoryInfo(File.ResolveLinkTarget($"/proc/{process.Pid}/cwd", returnFinalTarget: false)!.FullName);
            Assert.Equal(Path.GetFullPath(cluster.Launcher.LogDir).TrimEnd('/'), cwd.FullName.TrimEnd('/'));
            string[] tree = [cwd.FullName, .. Directory.EnumerateDirectories(cwd.FullName, "*", SearchOption.AllDirectories)];
            var inodes = await InodesAsync(tree);
            var watched = WatchedInodes(process.Pid);
            var hits = tree.Where(d => watched.Contains(inodes[d])).ToArray();
            Assert.True(hits.Length == 0,
                $"{process.Name} (pid {process.Pid}) watches {hits.Length} of the {tree.Length} directories under its working directory {cwd.FullName} with inotify: {string.Join(", ", hits.Take(5))}");
        }
    });

    /// <summary>The inode numbers of the directories, from <c>stat</c>.</summary>
    private static async Task<Dictionary<string, ulong>> InodesAsync(IReadOnlyList<string> directories)
    {
        var result = await ProcessRunner.RunAsync("stat", ["--format=%i %n", .. directories]);
        Assert.True(result.ExitCode == 0, $"stat failed:\n{result.Output}");
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', 2))
            .ToDictionary(parts => parts[1], parts => ulong.Parse(parts[0], CultureInfo.InvariantCulture));
    }

    /// <summary>Every inode the process watches: the "inotify wd:N ino:HEX ..." lines of its descriptors' fdinfo.</summary>
    private static HashSet<ulong> WatchedInodes(int pid)
    {
        var inodes = new HashSet<ulong>();
        foreach (var info in Directory.EnumerateFiles($"/proc/{pid}/fdinfo"))
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(info);
            }
            catch (IOException)
            {
                continue; // the descriptor closed meanwhile
            }
            foreach (var line in lines.Where(l => l.StartsWith("inotify ", StringComparison.Ordinal)))
            {
                var field = line.Split(' ').First(f => f.StartsWith("ino:", StringComparison.Ordinal));
                inodes.Add(ulong.Parse(field["ino:".Length..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }
        return inodes;
    }
}
