using System.Text.Json;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>Reads the <c>broker.json</c> / <c>agent.json</c> readiness files the daemons write.</summary>
public static class ReadyFile
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Waits until <paramref name="path"/> holds a JSON object written by <paramref name="process"/>
    /// (its pid), failing at once if the process exits first.
    /// </summary>
    public static Task<T> WaitAsync<T>(string path, ProcessHandle process, TimeSpan timeout, Func<T, int> pidOf)
        where T : class =>
        Wait.ForAsync(
            $"{process.Name} to write {path}",
            timeout,
            async () =>
            {
                if (!File.Exists(path))
                {
                    return null;
                }
                var value = JsonSerializer.Deserialize<T>(await File.ReadAllTextAsync(path), Options);
                return value is not null && pidOf(value) == process.Pid ? value : null;
            },
            guard: () =>
            {
                if (process.HasExited)
                {
                    throw new Xunit.Sdk.XunitException(
                        $"{process.Name} exited with {process.ExitCode} before it was ready\n{process.Tail(40)}");
                }
            });
}
