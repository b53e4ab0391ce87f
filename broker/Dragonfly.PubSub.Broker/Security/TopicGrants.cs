namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The topic filters a certificate grants (<c>--topics</c> of its token) against the topic or filter a
/// peer asks for. A peer may use a topic filter only when every topic it matches is matched by one of its
/// grants; a certificate without grants may use every topic.
/// </summary>
public static class TopicGrants
{
    /// <summary>Whether <paramref name="grants"/> allow the user topic or topic filter <paramref name="wanted"/> (no <c>dragonfly/announce/</c> prefix).</summary>
    public static bool Allow(IReadOnlyList<string> grants, string wanted) =>
        grants.Count == 0 || grants.Any(grant => Covers(grant, wanted));

    /// <summary>
    /// Whether every topic matched by <paramref name="filter"/> is also matched by <paramref name="grant"/>
    /// (MQTT 5 §4.7: <c>+</c> one level, <c>#</c> the rest including none, so <c>a/#</c> covers <c>a</c>).
    /// </summary>
    public static bool Covers(string grant, string filter)
    {
        var granted = grant.Split('/');
        var wanted = filter.Split('/');
        for (var i = 0; i < granted.Length; i++)
        {
            if (granted[i] == "#")
            {
                return true;
            }
            if (i >= wanted.Length || wanted[i] == "#")
            {
                return false; // the filter ends (or goes on with any levels) where the grant still asks for a level
            }
            if (granted[i] == "+")
            {
                continue; // one level: a name or + below it
            }
            if (wanted[i] != granted[i])
            {
                return false; // another name, or + that also matches other names
            }
        }
        return wanted.Length == granted.Length;
    }
}
