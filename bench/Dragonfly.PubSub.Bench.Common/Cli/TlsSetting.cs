namespace Dragonfly.PubSub.Bench.Common.Cli;

/// <summary>Whether the Dragonfly processes of a benchmark run talk TLS (<c>--tls on|off|both</c>).</summary>
public enum TlsSetting
{
    /// <summary>The executables' default, TLS 1.3: the broker's fleet CA, agents enrolled with a join token.</summary>
    On,

    /// <summary><c>--insecure</c> to every dfbroker, dfagent, dfget and dfpub: plain text.</summary>
    Off,
}
