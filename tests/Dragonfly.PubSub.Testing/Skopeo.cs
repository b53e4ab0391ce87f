namespace Dragonfly.PubSub.Testing;

/// <summary>
/// skopeo with an isolated home (no auth files of the machine, a permissive policy of its own),
/// so credentials are only what a test passes.
/// </summary>
public sealed class Skopeo : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("dragonfly-skopeo-").FullName;

    public Skopeo()
    {
        File.WriteAllText(PolicyPath, """{ "default": [ { "type": "insecureAcceptAnything" } ] }""");
        Directory.CreateDirectory(Path.Combine(_home, "run"));
    }

    private string PolicyPath => Path.Combine(_home, "policy.json");

    /// <summary>Pushes every platform of an OCI layout to <c>docker://127.0.0.1:port/repo:tag</c> over plain HTTP.</summary>
    public async Task PushAsync(TestImage image, string registry, string repository, string tag, string? credentials = null)
    {
        List<string> args = ["copy", "--all", "--dest-tls-verify=false", "--retry-times", "0"];
        if (credentials is not null)
        {
            args.AddRange(["--dest-creds", credentials]);
        }
        args.AddRange([$"oci:{image.Directory}:{image.Tag}", $"docker://{registry}/{repository}:{tag}"]);
        var result = await RunAsync(args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"skopeo could not push {repository}:{tag} to {registry}:\n{result.Output}");
        }
    }

    /// <summary><c>skopeo copy</c> with the given arguments; the global ones (policy) are added.</summary>
    public Task<ProcessResult> RunAsync(IEnumerable<string> args) =>
        ProcessRunner.RunAsync(TestPaths.Skopeo, ["--policy", PolicyPath, .. args], new Dictionary<string, string>
        {
            ["HOME"] = _home,
            ["XDG_RUNTIME_DIR"] = Path.Combine(_home, "run"),
            ["XDG_CONFIG_HOME"] = Path.Combine(_home, "config"),
            ["REGISTRY_AUTH_FILE"] = Path.Combine(_home, "auth.json"),
            ["DOCKER_CONFIG"] = Path.Combine(_home, "docker"),
        });

    public void Dispose() => TempDirectory.Delete(_home);
}
