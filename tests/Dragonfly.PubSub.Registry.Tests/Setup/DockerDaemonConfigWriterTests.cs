using System.Runtime.Versioning;
using Dragonfly.PubSub.Registry.Setup;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Registry.Tests.Setup;

public sealed class DockerDaemonConfigWriterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("dragonfly-root-").FullName;
    private readonly DockerDaemonConfigWriter _writer = new(new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)));

    private string DaemonJson => Path.Combine(_root, "etc", "docker", "daemon.json");

    [Fact]
    public void Write_NoFile_CreatesOneWithTheMirror()
    {
        var result = _writer.Write(_root);

        Assert.Equal(DaemonJson, result.Path);
        Assert.Null(result.BackupPath);
        Assert.Equal("""
            {
              "registry-mirrors": [
                "http://127.0.0.1:4001"
              ]
            }

            """.ReplaceLineEndings("\n"), File.ReadAllText(DaemonJson));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void Write_ExistingConfig_KeepsEveryOtherKeyAndMirrorAndBacksItUp()
    {
        const string original = """
            {
              "log-driver": "json-file",
              "log-opts": { "max-size": "10m" },
              "registry-mirrors": ["https://mirror.example.com", "http://127.0.0.1:4001/"],
              "insecure-registries": ["10.0.0.1:5000"]
            }
            """;
        Directory.CreateDirectory(Path.GetDirectoryName(DaemonJson)!);
        File.WriteAllText(DaemonJson, original);
        File.SetUnixFileMode(DaemonJson, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var result = _writer.Write(_root);

        Assert.Equal(DaemonJson + ".bak-20260102030405", result.BackupPath);
        Assert.Equal(original, File.ReadAllText(result.BackupPath!));
        Assert.Equal("""
            {
              "log-driver": "json-file",
              "log-opts": {
                "max-size": "10m"
              },
              "registry-mirrors": [
                "http://127.0.0.1:4001",
                "https://mirror.example.com"
              ],
              "insecure-registries": [
                "10.0.0.1:5000"
              ]
            }

            """.ReplaceLineEndings("\n"), File.ReadAllText(DaemonJson));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(DaemonJson));
    }

    [Fact]
    public void Write_AlreadySetUp_LeavesTheFileAsItIs()
    {
        const string configured = """{"registry-mirrors": ["http://127.0.0.1:4001"], "debug": true}""";
        Directory.CreateDirectory(Path.GetDirectoryName(DaemonJson)!);
        File.WriteAllText(DaemonJson, configured);

        var result = _writer.Write(_root);

        Assert.False(result.Changed);
        Assert.Null(result.BackupPath);
        Assert.Equal(configured, File.ReadAllText(DaemonJson));
    }

    [Fact]
    public void Write_DryRun_ReturnsTheMergedTextAndWritesNothing()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DaemonJson)!);
        File.WriteAllText(DaemonJson, """{"debug": true}""");

        var result = _writer.Write(_root, new Uri("http://127.0.0.1:14001"), dryRun: true);

        Assert.True(result.DryRun);
        Assert.Contains("\"debug\": true", result.Content);
        Assert.Contains("\"http://127.0.0.1:14001\"", result.Content);
        Assert.Equal("""{"debug": true}""", File.ReadAllText(DaemonJson));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(DaemonJson)!));
    }

    [Theory]
    [InlineData("{ not json", "daemon.json is not valid JSON")]
    [InlineData("[1, 2]", "daemon.json is not a JSON object")]
    [InlineData("""{"registry-mirrors": "http://x"}""", "registry-mirrors is not a list")]
    public void Write_UnusableExistingFile_FailsClearlyAndTouchesNothing(string content, string message)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DaemonJson)!);
        File.WriteAllText(DaemonJson, content);

        var error = Assert.Throws<FormatException>(() => _writer.Write(_root));

        Assert.Contains(message, error.Message);
        Assert.Equal(content, File.ReadAllText(DaemonJson));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(DaemonJson)!));
    }

    public void Dispose() => TempDirectory.Delete(_root);
}
