using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>What <c>dfbroker token create</c> asks for.</summary>
public sealed record TokenRequest(IReadOnlyList<PeerRole> Roles, IReadOnlyList<string> Topics, TimeSpan Ttl, int Uses)
{
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromHours(24);

    /// <summary>Null when fine; otherwise one line.</summary>
    public string? Validate()
    {
        if (Roles.Count == 0)
        {
            return "--role is empty; choose agent, seed, publisher or admin (several with commas, e.g. agent,publisher)";
        }
        if (Roles.Contains(PeerRole.Broker))
        {
            return "--role broker cannot be granted; choose agent, seed, publisher or admin";
        }
        if (Uses < 1)
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
