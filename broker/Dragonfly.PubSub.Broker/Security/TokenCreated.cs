namespace Dragonfly.PubSub.Broker.Security;

/// <summary>A new join token (its full text is shown once, to the admin who made it) and what it grants.</summary>
public sealed record TokenCreated(string Token, string Id, string Role, IReadOnlyList<string> Topics, DateTimeOffset ExpiresAt, int Uses);
