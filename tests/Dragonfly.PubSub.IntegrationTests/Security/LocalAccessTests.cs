using System.Globalization;
using Dragonfly.PubSub.IntegrationTests.CommandLine;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, local hardening of a real dfagent: its data dir is 0700 (0710 of --socket-group), its API socket
/// 0660 of that group; a symbolic link planted at an output path is replaced, never followed, so a local user
/// who can write in the output directory cannot make the agent overwrite another file. Both modes.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LocalAccessTests(ITestOutputHelper output)
{
    private const string Topic = "releases/app";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    [Fact]
    public Task DataDirAndSocket_AreClosedToOtherUsers_AndOpenToTheSocketGroup() => TestCluster.RunAsync(output, async cluster =>
    {
        var group = (await Cli.RunAsync("/usr/bin/id", ["-g"])).Stdout.Trim();
        Assert.True(uint.TryParse(group, CultureInfo.InvariantCulture, out _), $"id -g printed '{group}'");
        await cluster.StartBrokerAsync();
        var plain = await cluster.StartAgentAsync("plain");
        var grouped = await cluster.StartAgentAsync("grouped", extraArgs: ["--socket-group", group]);

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(plain.DataDir));
        Assert.Equal(SocketMode, File.GetUnixFileMode(Path.Combine(plain.DataDir, "dfagent.sock")));
        Assert.Equal(OwnerOnly | UnixFileMode.GroupExecute, File.GetUnixFileMode(grouped.DataDir));
        var socket = Path.Combine(grouped.DataDir, "dfagent.sock");
        Assert.Equal(SocketMode, File.GetUnixFileMode(socket));
        Assert.Equal(group, (await Cli.RunAsync("/usr/bin/stat", ["-c", "%g", socket])).Stdout.Trim());
        Assert.Equal(group, (await Cli.RunAsync("/usr/bin/stat", ["-c", "%g", grouped.DataDir])).Stdout.Trim());

        // A group that does not exist: one line, usage error, nothing started.
        var unknown = await cluster.RunCliAsync("dfagent",
            ["--broker", "127.0.0.1:1", "--data-dir", Path.Combine(cluster.Root, "nogroup"), "--socket-group", "no-such-group-df11", .. TlsMode.Insecure ? ["--insecure"] : Array.Empty<string>()]);
        CliAssert.FailedWithOneLine(unknown, 2);
        Assert.Contains("--socket-group 'no-such-group-df11' is not a group", unknown.Stderr, StringComparison.Ordinal);
    });

    [Fact]
    public Task SymlinkPlantedAtTheOutputPath_IsReplaced_TheFileItPointsToIsUntouched() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscriber = await cluster.StartAgentAsync("sub", ["releases/#"]);
        var file = await cluster.CreateFileAsync("app.bin", 3 * MiB, seed: 1131);

        // Someone who can write in the output directory links the coming output path to a file of the agent's user.
        var victim = Path.Combine(cluster.Root, "victim.conf");
        await File.WriteAllTextAsync(victim, "keep me\n");
        var landed = subscriber.OutputPathOf(Topic, file.Name);
        Directory.CreateDirectory(Path.GetDirectoryName(landed)!);
        File.CreateSymbolicLink(landed, victim);

        await cluster.PublishAsync(publisher, file, Topic);
        await Wait.UntilAsync("the output path to be a regular file", TestCluster.TransferTimeout,
            () => Task.FromResult(new FileInfo(landed) is { Exists: true, LinkTarget: null }), subscriber.ThrowIfCrashed);
        Assert.Equal(file.Sha256Hex, await TestFile.HashAsync(landed));
        Assert.Equal("keep me\n", await File.ReadAllTextAsync(victim));
        Assert.Equal([file.Name], Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(landed)!).Select(Path.GetFileName));
    });
}
