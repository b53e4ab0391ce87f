namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>What a finished <c>dfpub</c>/<c>dfget</c> run left behind.</summary>
public sealed record CliResult(string CommandLine, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The non-blank lines of stderr.</summary>
    public IReadOnlyList<string> StderrLines =>
        Stderr.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => !string.IsNullOrWhiteSpace(l)).ToList();

    /// <summary>The last non-blank line of stdout, trimmed (the content id dfpub prints).</summary>
    public string LastStdoutLine =>
        Stdout.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0) ?? "";

    public override string ToString() =>
        $"$ {CommandLine}\nexit code: {ExitCode}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
}
