namespace Dragonfly.PubSub.Origins.Tests.Infrastructure;

/// <summary>One line of the test nginx's access log: what an origin really served.</summary>
internal sealed record AccessLogEntry(string Method, string Path, int Status, long BytesSent, string Range);
