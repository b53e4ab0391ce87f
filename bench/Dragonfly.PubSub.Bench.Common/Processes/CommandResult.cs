namespace Dragonfly.PubSub.Bench.Common.Processes;

/// <summary>How a command ended and how long it ran, from start to exit.</summary>
public sealed record CommandResult(int ExitCode, TimeSpan Elapsed, string Stdout, string Stderr)
{
    /// <summary>The last line of stderr, else of stdout: what to show when the command failed.</summary>
    public string Reason =>
        (Stderr.Trim().Length > 0 ? Stderr : Stdout).Trim().Split('\n')[^1].Trim() is { Length: > 0 } line ? line : "(no output)";

    /// <summary>The last non-empty line of stderr then stdout (so stdout's when it has one), for one-line errors.</summary>
    public string LastLine =>
        (Stderr + "\n" + Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "(no output)";
}
