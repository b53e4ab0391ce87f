using System.Diagnostics;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// What <c>eng/images.sh</c> builds, built once for <see cref="ContainerImageTests"/>: the script runs against
/// a local Debian <c>docker-registry</c> (a config in a temp dir, a free loopback port), then every image
/// (dfbroker and dfagent, linux/amd64 and linux/arm64) is pulled back with skopeo and its layers unpacked into
/// a root filesystem of its own. Nothing happens in the <c>DFIT_INSECURE=1</c> pass: the images do not
/// depend on the mode, and building them twice would double the minutes.
/// </summary>
public sealed partial class ContainerImages : IAsyncLifetime
{
    public const string RegistryPath = "dragonfly";
    public const string Tag = "it";
    public const string Version = "0.1.0-it";
    public const string Source = "https://example.invalid/dragonfly-pubsub";
    public static readonly string[] Components = ["dfbroker", "dfagent"];
    public static readonly string[] Architectures = ["amd64", "arm64"];

    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(12);

    private readonly Dictionary<(string Component, string Arch), ImageRoot> _roots = [];
    private string? _root;

    public bool Built { get; private set; }

    public RegistryServer? Registry { get; private set; }

    public Skopeo Skopeo { get; } = new();

    /// <summary>Everything the script printed (stdout, then stderr), and how long it took.</summary>
    public string ScriptOutput { get; private set; } = "";

    public TimeSpan ScriptTime { get; private set; }

    /// <summary>The index digest per component, from the script's <c>pushed …@sha256:…</c> lines.</summary>
    public Dictionary<string, string> IndexDigests { get; } = [];

    /// <summary>HEAD of the checkout, the revision the images must be labelled with.</summary>
    public string Revision { get; private set; } = "";

    public string Reference(string component) => $"{Registry!.Name}/{RegistryPath}/{component}:{Tag}";

    public ImageRoot this[string component, string arch] => _roots[(component, arch)];

    public async Task InitializeAsync()
    {
        if (TlsMode.Insecure)
        {
            return;
        }
        _root = Directory.CreateTempSubdirectory("dfit-images-").FullName;
        Registry = await RegistryServer.StartAsync();
        Revision = (await ProcessRunner.RunAsync("git", ["-C", Product.RepoRoot, "rev-parse", "HEAD"])).Stdout.Trim();

        // The script's --out of an earlier run of this commit with these arguments, whose programs are reused
        // (--reuse-publish) and which is kept; the base, push and pull still run. eng/test.sh leaves one in
        // .tools/images (publishing the 8 programs takes longer than a test may run); DFIT_IMAGES_OUT names another.
        var reuse = Environment.GetEnvironmentVariable("DFIT_IMAGES_OUT") ?? PublishedByTestScript();
        var watch = Stopwatch.StartNew();
        var script = await RunScriptAsync(
            ["--registry", $"{Registry.Name}/{RegistryPath}", "--tag", Tag, "--version", Version, "--source", Source,
             "--out", reuse ?? Path.Combine(_root, "out"), .. reuse is null ? Array.Empty<string>() : ["--reuse-publish"]]);
        ScriptTime = watch.Elapsed;
        ScriptOutput = $"eng/images.sh exit {script.ExitCode} after {ScriptTime.TotalSeconds:0} s\n--- stdout\n{script.Stdout}\n--- stderr\n{script.Stderr}";
        if (script.ExitCode != 0)
        {
            throw new InvalidOperationException(ScriptOutput);
        }
        foreach (Match pushed in PushedLine().Matches(script.Stdout))
        {
            IndexDigests[pushed.Groups["component"].Value] = pushed.Groups["digest"].Value;
        }
        // The script's own output folder is large (publishes, debs) and not needed any more.
        if (reuse is null)
        {
            TempDirectory.Delete(Path.Combine(_root, "out"));
        }

        foreach (var component in Components)
        {
            foreach (var arch in Architectures)
            {
                _roots[(component, arch)] = await ImageRoot.PullAsync(Skopeo, Reference(component), arch, Path.Combine(_root, $"{component}-{arch}"));
            }
        }
        Built = true;
    }

    /// <summary><c>.tools/images</c> when eng/test.sh ran the script there for both architectures, else null (a cold run).</summary>
    private static string? PublishedByTestScript()
    {
        var dir = Path.Combine(Product.RepoRoot, ".tools", "images");
        return Directory.Exists(Path.Combine(dir, "publish")) && Directory.GetFiles(Path.Combine(dir, "publish"), "kind", SearchOption.AllDirectories).Length == Architectures.Length
            ? dir
            : null;
    }

    public Task DisposeAsync()
    {
        Registry?.Dispose();
        Skopeo.Dispose();
        if (_root is not null)
        {
            // A test's chroot mounts are gone by now; should one be left, the tree stays (never delete through a mount).
            ChrootMounts.DeleteUnlessMounted(_root);
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// <c>bash eng/images.sh ARGS</c> with the test host's MSBuild variables removed: the script's dotnet publish
    /// must find the SDK as on a developer's machine, not through the <c>dotnet test</c> that started this test.
    /// </summary>
    private static async Task<ProcessResult> RunScriptAsync(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        info.ArgumentList.Add(Path.Combine(Product.RepoRoot, "eng", "images.sh"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)
            || k.StartsWith("VSTEST", StringComparison.Ordinal) || k is "DOTNET_HOST_PATH" or "MSBUILD_EXE_PATH").ToList())
        {
            info.Environment.Remove(key);
        }
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(ScriptTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // The script and the dotnet, apt and skopeo it started.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"eng/images.sh did not finish within {ScriptTimeout.TotalMinutes} min:\n{await stdout}\n{await stderr}");
        }
        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    [GeneratedRegex(@"^pushed \S+/(?<component>df[a-z]+):\S+@(?<digest>sha256:[0-9a-f]{64})$", RegexOptions.Multiline)]
    private static partial Regex PushedLine();
}
