using System.CommandLine;
using Dragonfly.PubSub.Client.CommandLine;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Registry.Setup;

namespace Dragonfly.PubSub.Agent.Setup;

/// <summary>
/// <c>dfagent init containerd|docker</c>: points a container runtime at this machine's registry
/// mirror, with the set-up writers of the registry library (a backup of what was there, an atomic
/// replace, <c>--dry-run</c> prints instead).
/// </summary>
public static class InitCommands
{
    private const string Program = "dfagent";

    public static Command Create()
    {
        var init = new Command("init", "Point a container runtime at the registry mirror of the dfagent on this machine (--proxy-port, default 4001). See 'dfagent init containerd --help' and 'dfagent init docker --help'.");
        init.Subcommands.Add(Containerd());
        init.Subcommands.Add(Docker());
        return init;
    }

    private static Command Containerd()
    {
        var registries = new Option<string[]>("--registry") { Description = "Registry host[:port] whose pulls go through the mirror, e.g. docker.io, ghcr.io, registry.example.com:5000; repeatable (default: docker.io).", Arity = ArgumentArity.ZeroOrMore };
        var (mirror, root, dryRun, verbose) = CommonOptions();
        var command = new Command("containerd",
            "Write <root>/etc/containerd/certs.d/<registry>/hosts.toml for each --registry: containerd then resolves and pulls "
            + "that registry's images through the mirror first (it adds ?ns=<registry> to the mirror's requests, so one mirror serves "
            + "every registry), the registry itself staying the fallback. A file that differs is first saved as hosts.toml.bak-<UTC time>. "
            + "containerd reads these files when its CRI registry config has config_path = \"/etc/containerd/certs.d\" (the default of "
            + "containerd 2; for 1.x set it under [plugins.\"io.containerd.grpc.v1.cri\".registry] and restart containerd). "
            + "Needs root for /etc; try --dry-run first.")
        {
            registries, mirror, root, dryRun, verbose,
        };
        command.SetAction((parse, _) => CliRunner.RunAsync(Program, parse.GetValue(verbose), () =>
        {
            var mirrorUrl = MirrorUrl(parse.GetValue(mirror)!);
            var rootDir = RootDir(parse.GetValue(root)!);
            var names = parse.GetValue(registries) is { Length: > 0 } given
                ? given.SelectMany(r => r.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.OrdinalIgnoreCase).ToArray()
                : ["docker.io"];
            var writer = new ContainerdHostsWriter();
            // Every registry is checked before any file is written: a typo leaves nothing half done.
            foreach (var name in names)
            {
                Usage(() => writer.Render(name, mirrorUrl));
            }
            var dry = parse.GetValue(dryRun);
            foreach (var name in names)
            {
                Report(Write(() => writer.Write(name, rootDir, mirrorUrl, dry), ContainerdHostsWriter.PathFor(rootDir, name)));
            }
            if (!dry)
            {
                Console.WriteLine($"containerd uses these files when its CRI registry config_path is {Path.Combine(rootDir, "etc", "containerd", "certs.d")}; no restart is needed once it is set.");
            }
            return Task.FromResult(ExitCodes.Success);
        }));
        return command;
    }

    private static Command Docker()
    {
        var (mirror, root, dryRun, verbose) = CommonOptions();
        var command = new Command("docker",
            "Add the mirror to \"registry-mirrors\" in <root>/etc/docker/daemon.json (first in the list; every other key and mirror is kept; "
            + "the previous file is saved as daemon.json.bak-<UTC time>). Docker sends only Docker Hub pulls to registry mirrors, and without "
            + "?ns=, so run dfagent with --registry-mirror https://registry-1.docker.io. Restart dockerd afterwards (systemctl restart docker). "
            + "Needs root for /etc; try --dry-run first.")
        {
            mirror, root, dryRun, verbose,
        };
        command.SetAction((parse, _) => CliRunner.RunAsync(Program, parse.GetValue(verbose), () =>
        {
            var mirrorUrl = MirrorUrl(parse.GetValue(mirror)!);
            var rootDir = RootDir(parse.GetValue(root)!);
            var dry = parse.GetValue(dryRun);
            var writer = new DockerDaemonConfigWriter();
            var result = Write(() => writer.Write(rootDir, mirrorUrl, dry), DockerDaemonConfigWriter.PathFor(rootDir));
            Report(result);
            if (!dry && result.Changed)
            {
                Console.WriteLine("restart the Docker daemon to use it (e.g. systemctl restart docker); dfagent needs --registry-mirror https://registry-1.docker.io for Docker Hub pulls.");
            }
            return Task.FromResult(ExitCodes.Success);
        }));
        return command;
    }

    private static (Option<string> Mirror, Option<string> Root, Option<bool> DryRun, Option<bool> Verbose) CommonOptions() =>
    (
        new Option<string>("--mirror-url") { Description = "The mirror as the runtime reaches it: the dfagent's --proxy-port on this machine.", DefaultValueFactory = _ => ContainerdHostsWriter.DefaultMirror.GetLeftPart(UriPartial.Authority) },
        new Option<string>("--root") { Description = "Filesystem root the /etc paths are under (for images being built, or to try it out).", DefaultValueFactory = _ => "/" },
        new Option<bool>("--dry-run") { Description = "Print what would be written, change nothing." },
        new Option<bool>("--verbose") { Description = "Stack traces on errors." }
    );

    private static Uri MirrorUrl(string text) =>
        Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
            ? url
            : throw UserFacingException.Usage($"--mirror-url '{text}' is not an http(s) URL; write e.g. {ContainerdHostsWriter.DefaultMirror.GetLeftPart(UriPartial.Authority)}");

    private static string RootDir(string text) =>
        text.Trim().Length > 0 ? Path.GetFullPath(text.Trim()) : throw UserFacingException.Usage("--root needs a directory, e.g. /");

    private static void Usage(Action check)
    {
        try
        {
            check();
        }
        catch (ArgumentException e)
        {
            throw UserFacingException.Usage(WithoutParameter(e));
        }
    }

    private static SetupResult Write(Func<SetupResult> write, string path)
    {
        try
        {
            return write();
        }
        catch (ArgumentException e)
        {
            throw UserFacingException.Usage(WithoutParameter(e));
        }
        catch (UnauthorizedAccessException)
        {
            throw new UserFacingException($"cannot write {path}: permission denied; run as root (sudo), or pass --root DIR or --dry-run");
        }
        catch (FormatException e)
        {
            throw new UserFacingException($"{path}: {e.Message}");
        }
        catch (IOException e)
        {
            throw new UserFacingException($"cannot write {path}: {e.Message}");
        }
    }

    private static void Report(SetupResult result)
    {
        if (result.DryRun)
        {
            Console.WriteLine($"# {result.Path} ({(result.Changed ? "dry run: would write" : "already up to date")})");
            Console.Write(result.Content.EndsWith('\n') ? result.Content : result.Content + "\n");
        }
        else if (!result.Changed)
        {
            Console.WriteLine($"{result.Path} is already up to date");
        }
        else
        {
            Console.WriteLine(result.BackupPath is null ? $"wrote {result.Path}" : $"wrote {result.Path} (the previous version is saved as {result.BackupPath})");
        }
    }

    private static string WithoutParameter(ArgumentException e) =>
        e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
}
