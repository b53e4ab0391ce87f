namespace Dragonfly.PubSub.Broker.Security;

/// <summary>The lower-case names of <see cref="ApiScope"/>, as <c>--scope read,preheat</c> and the store write them.</summary>
public static class ApiScopes
{
    public static string Name(this ApiScope scope) => scope switch
    {
        ApiScope.Read => "read",
        ApiScope.Preheat => "preheat",
        _ => throw new ArgumentOutOfRangeException(nameof(scope), scope, null),
    };

    public static string Names(IEnumerable<ApiScope> scopes) => string.Join(",", scopes.Select(Name));

    /// <summary>Reads <c>read</c> or <c>read,preheat</c>; false (and empty) on an empty list or an unknown name.</summary>
    public static bool TryParseList(string? names, out IReadOnlyList<ApiScope> scopes)
    {
        var parsed = new List<ApiScope>();
        scopes = [];
        foreach (var name in (names ?? "").Split(',', StringSplitOptions.TrimEntries))
        {
            ApiScope? scope = name switch
            {
                "read" => ApiScope.Read,
                "preheat" => ApiScope.Preheat,
                _ => null,
            };
            if (scope is null)
            {
                return false;
            }
            if (!parsed.Contains(scope.Value))
            {
                parsed.Add(scope.Value);
            }
        }
        scopes = parsed;
        return parsed.Count > 0;
    }
}
