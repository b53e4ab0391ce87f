namespace Dragonfly.PubSub.Bench.Common.Cli;

/// <summary>Whether the Dragonfly processes of a benchmark run talk TLS (<c>--tls on|off|both</c>).</summary>
public enum TlsSetting
{
    /// <summary>The executables' default: TLS once it has landed (issue 9); no flag is passed.</summary>
    On,

    /// <summary><c>--insecure</c> to every dfbroker, dfagent, dfget and dfpub: plain text.</summary>
    Off,
}
