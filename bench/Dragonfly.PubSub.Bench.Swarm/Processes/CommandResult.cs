namespace Dragonfly.PubSub.Bench.Swarm.Processes;

/// <summary>A command that ran to its end.</summary>
internal sealed record CommandResult(int ExitCode, TimeSpan Elapsed, string Stdout, string Stderr)
{
    /// <summary>The last non-empty line of stderr (else stdout), for one-line errors.</summary>
    public string LastLine =>
        (Stderr + "\n" + Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "(no output)";
}
