using Dragonfly.PubSub.Registry.Setup;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Registry.Tests.Setup;

public sealed class ContainerdHostsWriterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("dragonfly-root-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly ContainerdHostsWriter _writer;

    public ContainerdHostsWriterTests()
    {
        _writer = new ContainerdHostsWriter(time: _time);
    }

    [Fact]
    public void Render_DockerHub_PointsAtTheMirrorWithHubAsFallback()
    {
        Assert.Equal("""
            # Written by dfagent init containerd: pulls of docker.io go through the Dragonfly mirror
            # (containerd adds ?ns=docker.io to the mirror's requests); https://registry-1.docker.io stays the fallback.
            server = "https://registry-1.docker.io"

            [host."http://127.0.0.1:4001"]
              capabilities = ["pull", "resolve"]

            """.ReplaceLineEndings("\n"), _writer.Render("docker.io"));
    }

    [Theory]
    [InlineData("127.0.0.1:5000", "http://127.0.0.1:5000")]
    [InlineData("localhost:5000", "http://localhost:5000")]
    [InlineData("registry.example.com:5000", "https://registry.example.com:5000")]
    [InlineData("ghcr.io", "https://ghcr.io")]
    public void Render_OtherRegistries_UseTheirOwnServer(string registry, string server)
    {
        var text = _writer.Render(registry, new Uri("http://127.0.0.1:14001"));

        Assert.Contains($"server = \"{server}\"\n", text);
        Assert.Contains("[host.\"http://127.0.0.1:14001\"]\n", text);
    }

    [Fact]
    public void Write_NewFile_CreatesItWithoutBackup()
    {
        var result = _writer.Write("docker.io", _root);

        var path = Path.Combine(_root, "etc", "containerd", "certs.d", "docker.io", "hosts.toml");
        Assert.Equal(new SetupResult(path, _writer.Render("docker.io"), Changed: true, BackupPath: null, DryRun: false), result);
        Assert.Equal(result.Content, File.ReadAllText(path));
    }

    [Fact]
    public void Write_ExistingDifferentFile_BacksItUpWithATimestamp()
    {
        var path = ContainerdHostsWriter.PathFor(_root, "127.0.0.1:5000");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "server = \"http://127.0.0.1:5000\"\n");

        var first = _writer.Write("127.0.0.1:5000", _root);
        File.WriteAllText(path, "# edited by hand\n");
        var second = _writer.Write("127.0.0.1:5000", _root);

        Assert.Equal(path + ".bak-20260102030405", first.BackupPath);
        Assert.Equal("server = \"http://127.0.0.1:5000\"\n", File.ReadAllText(first.BackupPath!));
        Assert.Equal(path + ".bak-20260102030405-1", second.BackupPath);
        Assert.Equal("# edited by hand\n", File.ReadAllText(second.BackupPath!));
        Assert.Equal(_writer.Render("127.0.0.1:5000"), File.ReadAllText(path));
    }

    [Fact]
    public void Write_SameContentAgain_ChangesNothing()
    {
        _writer.Write("ghcr.io", _root);

        var again = _writer.Write("ghcr.io", _root);

        Assert.False(again.Changed);
        Assert.Null(again.BackupPath);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(again.Path)!));
    }

    [Fact]
    public void Write_DryRun_ReturnsTheTextAndWritesNothing()
    {
        var result = _writer.Write("docker.io", _root, dryRun: true);

        Assert.True(result.DryRun);
        Assert.True(result.Changed);
        Assert.Equal(_writer.Render("docker.io"), result.Content);
        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }

    [Theory]
    [InlineData("../../etc")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("")]
    public void Write_NotARegistryName_IsRefused(string registry)
    {
        var error = Assert.Throws<ArgumentException>(() => _writer.Write(registry, _root));

        Assert.Contains("is not a registry host[:port]", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_root));
    }

    [Fact]
    public void Render_MirrorWithAPath_IsRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => _writer.Render("docker.io", new Uri("http://127.0.0.1:4001/v2/")));

        Assert.Contains("without a path", error.Message);
    }

    public void Dispose() => TempDirectory.Delete(_root);
}
