using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Testing;

/// <summary>Keeps every log line (with exceptions) so tests can check what was, and what was never, logged.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly LoggerFactory _factory;

    public CapturedLogs()
    {
        _factory = new LoggerFactory([this], new LoggerFilterOptions { MinLevel = LogLevel.Trace });
    }

    public IReadOnlyCollection<string> Lines => _lines;

    public string Text => string.Join('\n', _lines);

    public ILogger<T> For<T>() => new Logger<T>(_factory);

    public ILogger CreateLogger(string categoryName) => new Capture(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Capture(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue($"{logLevel} {category} {eventId.Id}: {formatter(state, exception)}{(exception is null ? "" : "\n" + exception)}");
    }
}
