using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// What <c>dfbroker token create</c> asks for: a join token (<see cref="Roles"/>, spent by enrolling) or,
/// with <see cref="Scopes"/>, an API bearer token for the broker's HTTP API (no roles, not spent).
/// </summary>
public sealed record TokenRequest(IReadOnlyList<PeerRole> Roles, IReadOnlyList<string> Topics, TimeSpan Ttl, int Uses)
{
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(24);

    /// <summary>Non-empty: an API token with these scopes (<c>--scope read,preheat</c>) instead of a join token.</summary>
    public IReadOnlyList<ApiScope> Scopes { get; init; } = [];

    public bool IsApiToken => Scopes.Count > 0;

    /// <summary>Null when fine; otherwise one line.</summary>
    public string? Validate()
    {
        if (IsApiToken && Roles.Count > 0)
        {
            return "--scope makes an API token and --role a join token; give one of them";
        }
        if (!IsApiToken && Roles.Count == 0)
        {
            return "--role is empty; choose agent, seed, publisher or admin (several with commas, e.g. agent,publisher)";
        }
        if (Roles.Contains(PeerRole.Broker))
        {
            return "--role broker cannot be granted; choose agent, seed, publisher or admin";
        }
        if (!IsApiToken && Uses < 1)
        {
            return $"--uses {Uses}: a token must allow at least one enrolment";
        }
        if (Ttl <= TimeSpan.Zero)
        {
            return "--ttl must be positive";
        }
        foreach (var topic in Topics)
        {
            if (string.IsNullOrWhiteSpace(topic) || topic.Contains('\0', StringComparison.Ordinal))
            {
                return $"--topics '{topic}' is not a topic filter; give e.g. images/# or releases/+/linux";
            }
        }
        return null;
    }
}
