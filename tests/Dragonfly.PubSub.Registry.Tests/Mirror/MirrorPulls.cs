using Dragonfly.PubSub.Registry.Tests.Infrastructure;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>skopeo pulls of linux/arm64 through a mirror, and the log check every auth test makes.</summary>
internal static class MirrorPulls
{
    public static Task<ProcessResult> PullAsync(Skopeo skopeo, MirrorHost mirror, string image, string directory, string? credentials)
    {
        List<string> args = ["copy", "--retry-times", "0", "--src-tls-verify=false", "--override-arch", "arm64", "--override-os", "linux"];
        if (credentials is not null)
        {
            args.AddRange(["--src-creds", credentials]);
        }
        args.AddRange([$"docker://{mirror.Name}/{image}", $"oci:{directory}:latest"]);
        return skopeo.RunAsync(args);
    }

    public static void AssertNoSecretLogged(MirrorHost mirror, params string[] secrets)
    {
        Assert.NotEmpty(mirror.Logs.Lines);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, mirror.Logs.Text);
        }
    }
}
