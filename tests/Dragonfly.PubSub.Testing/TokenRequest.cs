namespace Dragonfly.PubSub.Testing;

/// <summary>One request to the <see cref="TokenServer"/>: who asked (null = anonymous), for which scopes, and whether a token was issued.</summary>
public sealed record TokenRequest(string? User, string Scope, bool Granted);
