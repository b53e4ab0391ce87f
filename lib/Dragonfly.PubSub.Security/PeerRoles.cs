using System.Diagnostics.CodeAnalysis;

namespace Dragonfly.PubSub.Security;

/// <summary>The lower-case names of <see cref="PeerRole"/> used on the command line, in tokens and in certificates.</summary>
public static class PeerRoles
{
    /// <summary>The roles a join token may grant (the broker role is the broker's alone).</summary>
    public static readonly IReadOnlyList<PeerRole> Enrollable = [PeerRole.Agent, PeerRole.Seed, PeerRole.Publisher, PeerRole.Admin];

    public static string Name(this PeerRole role) => role switch
    {
        PeerRole.Agent => "agent",
        PeerRole.Seed => "seed",
        PeerRole.Publisher => "publisher",
        PeerRole.Admin => "admin",
        PeerRole.Broker => "broker",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    /// <summary>Several roles, comma-separated, as in <c>--role agent,publisher</c>.</summary>
    public static string Names(IEnumerable<PeerRole> roles) => string.Join(",", roles.Select(Name));

    /// <summary>
    /// Reads <c>agent</c> or <c>agent,publisher</c>: known names, none repeated, in the order given.
    /// False (with <paramref name="roles"/> empty) on an empty list or an unknown name.
    /// </summary>
    public static bool TryParseList(string? names, out IReadOnlyList<PeerRole> roles)
    {
        var parsed = new List<PeerRole>();
        roles = [];
        foreach (var name in (names ?? "").Split(',', StringSplitOptions.TrimEntries))
        {
            if (!TryParse(name, out var role))
            {
                return false;
            }
            if (!parsed.Contains(role.Value))
            {
                parsed.Add(role.Value);
            }
        }
        roles = parsed;
        return parsed.Count > 0;
    }

    public static bool TryParse(string? name, [NotNullWhen(true)] out PeerRole? role)
    {
        role = name switch
        {
            "agent" => PeerRole.Agent,
            "seed" => PeerRole.Seed,
            "publisher" => PeerRole.Publisher,
            "admin" => PeerRole.Admin,
            "broker" => PeerRole.Broker,
            _ => null,
        };
        return role is not null;
    }
}
