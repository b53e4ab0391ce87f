namespace Dragonfly.PubSub.Broker.Security;

/// <summary>The result of spending one use of a join token: the token, or why it cannot be used (one line, no secret).</summary>
public sealed record TokenClaim(TokenRecord? Token, string? Refusal);
