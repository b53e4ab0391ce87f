using System.Diagnostics;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Common.Cli;

/// <summary>
/// The one place that turns <c>--tls on|off|both</c> into the Dragonfly processes' arguments: every
/// dfbroker, dfagent, dfget and dfpub a benchmark starts gets <see cref="Arguments"/>. TLS is the
/// executables' default once it lands; off is their <c>--insecure</c>.
/// </summary>
public static class TlsFlags
{
    public const string Insecure = "--insecure";

    private static readonly Lazy<bool> Supported = new(DetectSupport);

    /// <summary>"on", "off" or "both" as the settings to run, in that order.</summary>
    public static IReadOnlyList<TlsSetting> Parse(string text) => text.Trim() switch
    {
        "on" => [TlsSetting.On],
        "off" => [TlsSetting.Off],
        "both" => [TlsSetting.On, TlsSetting.Off],
        _ => throw UserFacingException.Usage($"--tls must be on, off or both, not '{text}'"),
    };

    /// <summary>The arguments every Dragonfly process gets for <paramref name="setting"/>.</summary>
    public static IReadOnlyList<string> Arguments(TlsSetting setting) => setting == TlsSetting.Off ? [Insecure] : [];

    public static string Name(TlsSetting setting) => setting == TlsSetting.Off ? "off" : "on";

    /// <summary>
    /// Whether these builds know <c>--insecure</c> (dfagent's help lists it), i.e. whether they speak TLS
    /// at all: before the TLS work lands, "on" is plain text too, and result.json says so.
    /// </summary>
    public static bool ExecutablesSupportTls => Supported.Value;

    /// <summary>What result.json records about the transport of <paramref name="setting"/>.</summary>
    public static string Describe(TlsSetting setting) => (setting, ExecutablesSupportTls) switch
    {
        (TlsSetting.Off, _) => $"off: {Insecure} passed to every dfbroker, dfagent, dfget and dfpub (plain text)",
        (TlsSetting.On, true) => "on: the executables' default (TLS)",
        _ => $"on requested, but these builds have no TLS ({Insecure} unknown to dfagent): plain text",
    };

    /// <summary>Fails early, with one line, when off is asked of builds that have no <c>--insecure</c>.</summary>
    public static void EnsureSupported(IEnumerable<TlsSetting> settings)
    {
        // A secure broker admits only enrolled agents; dfbench does not make join tokens yet.
        if (settings.Contains(TlsSetting.On) && ExecutablesSupportTls)
        {
            throw UserFacingException.Usage("--tls on is not built yet: dfbench does not enrol its agents with join tokens; use --tls off (plain text, --insecure to every process)");
        }
        if (settings.Contains(TlsSetting.Off) && !ExecutablesSupportTls)
        {
            throw UserFacingException.Usage($"--tls off needs executables that know {Insecure} (the TLS work, issue 9); these builds talk plain text anyway: use --tls on");
        }
    }

    private static bool DetectSupport()
    {
        var info = new ProcessStartInfo(Processes.Executables.Agent, "--help") { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dfagent --help");
        var help = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return help.Result.Contains(Insecure, StringComparison.Ordinal);
    }
}
