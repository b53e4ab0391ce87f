using System.CommandLine;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Client.CommandLine;

/// <summary>
/// The error boundary of the CLIs: every failure becomes one line on stderr and the contract's exit
/// code; a stack trace only with <c>--verbose</c>.
/// </summary>
public static class CliRunner
{
    public static async Task<int> RunAsync(string program, bool verbose, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (DragonflyClientException e)
        {
            return Fail(program, e.Message, e.ExitCode, verbose ? e : null);
        }
        catch (UserFacingException e)
        {
            return Fail(program, e.Message, e.ExitCode, verbose ? e : null);
        }
        catch (OperationCanceledException e)
        {
            return Fail(program, "interrupted", ExitCodes.Failed, verbose ? e : null);
        }
        catch (Exception e)
        {
            return Fail(program, $"unexpected error: {e.Message} (run with --verbose for details)", ExitCodes.Failed, verbose ? e : null);
        }
    }

    /// <summary>
    /// Parses <paramref name="args"/>; a usage error is one line and exit 2 (System.CommandLine's own
    /// default is the help text and exit 1), otherwise the command's action runs.
    /// </summary>
    public static async Task<int> InvokeAsync(string program, RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            return Fail(program, $"{parsed.Errors[0].Message.TrimEnd('.')}; see '{program} --help'", ExitCodes.Usage);
        }
        return await parsed.InvokeAsync().ConfigureAwait(false);
    }

    public static int Fail(string program, string message, int exitCode, Exception? details = null)
    {
        Console.Error.WriteLine($"{program}: {OneLine(message)}");
        if (details is not null)
        {
            Console.Error.WriteLine(details);
        }
        return exitCode;
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
