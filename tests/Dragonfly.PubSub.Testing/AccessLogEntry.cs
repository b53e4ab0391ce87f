namespace Dragonfly.PubSub.Testing;

/// <summary>
/// One line of the test nginx's access log: what an origin really served. <see cref="BytesSent"/>
/// counts headers too; <see cref="BodyBytesSent"/> only the body (what leaves the origin as content).
/// </summary>
public sealed record AccessLogEntry(string Method, string Path, int Status, long BytesSent, long BodyBytesSent, string Range);
