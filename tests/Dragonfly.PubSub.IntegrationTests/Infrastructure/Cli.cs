using System.Diagnostics;
using System.Text;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>Runs <c>dfpub</c> or <c>dfget</c> to completion and captures everything it printed.</summary>
public static class Cli
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Runs <paramref name="tool"/> (<c>dfpub</c>, <c>dfget</c>, or a path) with <paramref name="args"/>.
    /// A run that outlives <paramref name="timeout"/> is killed and fails the test with what it printed.
    /// </summary>
    public static async Task<CliResult> RunAsync(
        string tool, IEnumerable<string> args, TimeSpan? timeout = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var executable = tool.Contains('/', StringComparison.Ordinal) ? tool : Product.ByName(tool);
        var info = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }
        var commandLine = Path.GetFileName(executable) + " " + string.Join(' ', info.ArgumentList.Select(a => a.Contains(' ', StringComparison.Ordinal) || a.Length == 0 ? $"'{a}'" : a));
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {commandLine}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? DefaultTimeout;
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException(
                $"{commandLine} did not finish within {limit.TotalSeconds:0} s\n--- stdout:\n{await stdout}\n--- stderr:\n{await stderr}");
        }
        return new CliResult(commandLine, process.ExitCode, await stdout, await stderr);
    }
}
