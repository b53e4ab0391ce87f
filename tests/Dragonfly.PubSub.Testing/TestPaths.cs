using System.Reflection;

namespace Dragonfly.PubSub.Testing;

/// <summary>Where the third-party servers the tests start are found.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepoRoot").Value!;

    /// <summary>s3rver, installed by eng/test.sh into a git-ignored folder.</summary>
    public static string S3rverScript => Path.Combine(RepoRoot, ".tools", "s3rver", "node_modules", "s3rver", "bin", "s3rver.js");

    public static string Nginx => FindExecutable("nginx", "/usr/sbin/nginx");

    public static string Node => FindExecutable("node", "/usr/bin/node");

    /// <summary>Debian's python3: python3-pyftpdlib lives in its dist-packages, not in a pyenv.</summary>
    public static string DebianPython => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : FindExecutable("python3", "/usr/bin/python3");

    /// <summary>CNCF Distribution, Debian's docker-registry package.</summary>
    public static string DockerRegistry => FindExecutable("docker-registry", "/usr/bin/docker-registry", "docker-registry");

    public static string Skopeo => FindExecutable("skopeo", "/usr/bin/skopeo", "skopeo");

    public static string Htpasswd => FindExecutable("htpasswd", "/usr/bin/htpasswd", "apache2-utils");

    private static string FindExecutable(string name, string fallback, string? package = null)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return File.Exists(fallback)
            ? fallback
            : throw new FileNotFoundException(
                $"{name} is not installed; run eng/test.sh (it installs the test dependencies{(package is null ? "" : ", here the Debian package " + package)})", name);
    }
}
