using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.IntegrationTests.Deploy;

/// <summary>
/// deploy/systemd: the units pass <c>systemd-analyze verify</c> (Debian's systemd), keep their
/// hardening, and start the programs with flags those programs have.
/// </summary>
public sealed class SystemdUnitTests
{
    [Theory]
    [InlineData("dfbroker")]
    [InlineData("dfagent")]
    public async Task Unit_PassesSystemdAnalyzeVerify_WithoutAWarning(string program)
    {
        // Installed elsewhere than /opt/dragonfly (the tarball's place), as an operator may: verify
        // checks that ExecStart's binary exists, so the unit points at this build's apphost.
        var dir = Directory.CreateTempSubdirectory("dfunit-").FullName;
        try
        {
            var binDir = Path.GetDirectoryName(Product.ByName(program))!;
            var unit = Path.Combine(dir, $"{program}.service");
            await File.WriteAllTextAsync(unit, (await File.ReadAllTextAsync(UnitPath(program))).Replace("/opt/dragonfly/", binDir + "/", StringComparison.Ordinal));

            var result = await ProcessRunner.RunAsync("systemd-analyze", ["verify", "--man=no", unit]);

            // verify exits 0 on unknown keys and bad values too; it only warns: any output fails.
            Assert.True(result.ExitCode == 0 && result.Output.Trim().Length == 0, $"systemd-analyze verify {program}.service:\n{result.Output}");
        }
        finally
        {
            TempDirectory.Delete(dir);
        }
    }

    [Theory]
    [InlineData("dfbroker", "dragonfly/broker")]
    [InlineData("dfagent", "dragonfly/agent")]
    public async Task Unit_IsHardened_AndKeepsItsDataInItsStateDirectory(string program, string stateDirectory)
    {
        var unit = await ReadUnitAsync(program);

        Assert.True(unit.Has("DynamicUser", "yes") || unit.Values("User").Any(), $"{program}.service runs as root: set DynamicUser=yes or User=");
        foreach (var (key, value) in new[]
        {
            ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"), ("PrivateDevices", "yes"),
            ("CapabilityBoundingSet", ""), ("RestrictSUIDSGID", "yes"), ("ProtectKernelTunables", "yes"),
            ("ProtectControlGroups", "yes"), ("SystemCallArchitectures", "native"), ("StateDirectory", stateDirectory),
        })
        {
            Assert.True(unit.Has(key, value), $"{program}.service should set {key}={value}; it has {key}={string.Join(",", unit.Values(key))}");
        }
        var execStart = Assert.Single(unit.Values("ExecStart"));
        Assert.Contains($"--data-dir /var/lib/{stateDirectory}", execStart, StringComparison.Ordinal);
        Assert.StartsWith($"/opt/dragonfly/{program} ", execStart, StringComparison.Ordinal);
        Assert.Contains("Restart=on-failure", unit.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dfbroker")]
    [InlineData("dfagent")]
    public async Task Unit_StartsTheProgramWithFlagsItKnows(string program)
    {
        var unit = await ReadUnitAsync(program);
        var help = await ProcessRunner.RunAsync(Product.ByName(program), ["--help"]);
        Assert.Equal(0, help.ExitCode);

        var flags = Assert.Single(unit.Values("ExecStart")).Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(flags);
        foreach (var flag in flags)
        {
            Assert.True(help.Stdout.Contains(flag + " ", StringComparison.Ordinal), $"{program}.service passes {flag}, which '{program} --help' does not list");
        }
    }

    private static string UnitPath(string program) => Path.Combine(Product.RepoRoot, "deploy", "systemd", $"{program}.service");

    private static async Task<UnitFile> ReadUnitAsync(string program) => new(await File.ReadAllTextAsync(UnitPath(program)));

    /// <summary>The key=value lines of a unit file (comments and sections skipped).</summary>
    private sealed record UnitFile(string Text)
    {
        public IEnumerable<string> Values(string key) => Text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith(key + "=", StringComparison.Ordinal))
            .Select(l => l[(key.Length + 1)..]);

        public bool Has(string key, string value) => Values(key).Contains(value, StringComparer.Ordinal);
    }
}
