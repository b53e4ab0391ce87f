using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.Origins.Tests.Infrastructure;

/// <summary>Keeps what the code under test logged, and writes it to the test's output.</summary>
internal sealed class TestLogger<T>(ITestOutputHelper? output = null) : ILogger<T>
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Completes when a logged line contains <paramref name="text"/>; fails after <see cref="Timeouts.Test"/>.</summary>
    public async Task WaitForLineAsync(string text)
    {
        var deadline = DateTime.UtcNow + Timeouts.Test;
        while (!_lines.Any(line => line.Contains(text, StringComparison.Ordinal)))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"nothing containing '{text}' was logged within {Timeouts.Test.TotalSeconds} s");
            }
            await Task.Delay(5); // polls a condition; the interval does not matter
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {eventId.Id}: {formatter(state, exception)}";
        _lines.Enqueue(line);
        try
        {
            output?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test already ended.
        }
    }
}
