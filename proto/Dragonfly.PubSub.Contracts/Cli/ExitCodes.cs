namespace Dragonfly.PubSub.Contracts.Cli;

/// <summary>The exit codes every executable keeps (contract.md).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The operation was understood but failed (unreachable broker, failed download, ...).</summary>
    public const int Failed = 1;
    /// <summary>Bad usage: unknown flag, malformed value, missing argument.</summary>
    public const int Usage = 2;
}

/// <summary>
/// An error the user can act on. Executables print its message as one line on stderr and exit
/// with <see cref="ExitCode"/>; no stack trace unless <c>--verbose</c>.
/// </summary>
public sealed class UserFacingException(string message, int exitCode = ExitCodes.Failed, Exception? inner = null)
    : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;

    public static UserFacingException Usage(string message) => new(message, ExitCodes.Usage);
}
