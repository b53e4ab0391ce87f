using System.Diagnostics;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Common.Cli;

/// <summary>
/// The one place that turns <c>--tls on|off|both</c> into the Dragonfly processes' arguments. Off is
/// <c>--insecure</c> on every dfbroker, dfagent, dfget and dfpub; on is the executables' default (TLS):
/// the broker creates its fleet CA and its agents enrol with a join token (<see cref="Tls.BenchFleet"/>).
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

    /// <summary>
    /// The TLS arguments of the CLIs (dfget, dfpub) and, with off, of every process: <c>--insecure</c>, or
    /// nothing (TLS is the default; agents add their join token, see <see cref="Tls.BenchFleet.AgentArguments"/>).
    /// </summary>
    public static IReadOnlyList<string> Arguments(TlsSetting setting) => setting == TlsSetting.Off ? [Insecure] : [];

    /// <summary>
    /// dfbroker's TLS arguments with its MQTT listener on <paramref name="mqttPort"/>: plain MQTT
    /// (<c>--insecure --mqtt-port</c>) or MQTT over TLS (<c>--mqtts-port</c>; the plain port is then not opened).
    /// </summary>
    public static IReadOnlyList<string> BrokerArguments(TlsSetting setting, int mqttPort) => setting == TlsSetting.Off
        ? [Insecure, "--mqtt-port", $"{mqttPort}"]
        : ["--mqtts-port", $"{mqttPort}"];

    public static string Name(TlsSetting setting) => setting == TlsSetting.Off ? "off" : "on";

    /// <summary>Whether these builds know <c>--insecure</c> (dfagent's help lists it), i.e. whether they speak TLS at all.</summary>
    public static bool ExecutablesSupportTls => Supported.Value;

    /// <summary>What result.json records about the transport of <paramref name="setting"/>.</summary>
    public static string Describe(TlsSetting setting) => setting == TlsSetting.Off
        ? $"off: {Insecure} passed to every dfbroker, dfagent, dfget and dfpub (plain text)"
        : "on: TLS 1.3 (the executables' default): the broker's fleet CA, every dfagent enrolled with a join token from 'dfbroker token create --role agent'";

    /// <summary>Fails early, with one line, when the executables (e.g. DFBENCH_BIN_DIR's) have no TLS to turn on or off.</summary>
    public static void EnsureSupported(IEnumerable<TlsSetting> settings)
    {
        if (settings.Any() && !ExecutablesSupportTls)
        {
            throw UserFacingException.Usage($"--tls needs executables with TLS (issue 9; dfagent --help lists {Insecure}); these builds have none: use builds of this repository");
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
