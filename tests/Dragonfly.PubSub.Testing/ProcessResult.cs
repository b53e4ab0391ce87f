namespace Dragonfly.PubSub.Testing;

/// <summary>How a short-lived command run by <see cref="ProcessRunner"/> ended and what it printed.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;
}
