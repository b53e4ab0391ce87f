namespace Dragonfly.PubSub.Broker.Security;

/// <summary>A new join or API token (its full text is shown once, to the admin who made it) and what it grants.</summary>
public sealed record TokenCreated(string Token, string Id, string Role, IReadOnlyList<string> Topics, DateTimeOffset ExpiresAt, int Uses)
{
    /// <summary>An API token's scopes (<c>read,preheat</c>); null for a join token.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Scope { get; init; }
}
