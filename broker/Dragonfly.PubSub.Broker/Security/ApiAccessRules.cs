using Microsoft.AspNetCore.Http;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The broker HTTP API's access table, keyed by method and path prefix; the first rule that matches wins.
/// Every GET or HEAD without a rule of its own (the dashboard, every <c>/api/v1</c> read, pages added later)
/// needs <see cref="ApiAccess.Read"/>; every other method without a rule is <see cref="ApiAccess.Refused"/>,
/// so a new write endpoint must get a rule here before other hosts can use it.
/// </summary>
public static class ApiAccessRules
{
    private static readonly string[] Reads = [HttpMethods.Get, HttpMethods.Head];
    private static readonly string[] Posts = [HttpMethods.Post];

    private static readonly (string[] Methods, string Path, bool Subtree, ApiAccess Access)[] Rules =
    [
        (Reads, "/healthz", false, ApiAccess.Public),
        // Prometheus scrapes from other hosts (deploy/kubernetes has a ServiceMonitor); counters only.
        (Reads, "/metrics", false, ApiAccess.Public),
        // An enrolling agent fetches the CA before it trusts anyone; it checks the CA against its token's pin.
        (Reads, "/api/v1/ca", false, ApiAccess.Public),
        (Posts, "/api/v1/enroll", false, ApiAccess.Public), // the join token in the body is the credential
        (Posts, "/api/v1/renew", false, ApiAccess.Public),  // the client certificate is the credential
        (Posts, "/api/v1/preheat", true, ApiAccess.Preheat),
    ];

    public static ApiAccess For(string method, string path)
    {
        foreach (var (methods, rulePath, subtree, access) in Rules)
        {
            if (methods.Any(m => HttpMethods.Equals(m, method)) && Matches(path, rulePath, subtree))
            {
                return access;
            }
        }
        return HttpMethods.IsGet(method) || HttpMethods.IsHead(method) ? ApiAccess.Read : ApiAccess.Refused;
    }

    /// <summary>The path itself (with or without a trailing slash) or, for a subtree, anything below it; case-insensitive like routing.</summary>
    private static bool Matches(string path, string rulePath, bool subtree)
    {
        var trimmed = path.Length > 1 ? path.TrimEnd('/') : path;
        if (trimmed.Equals(rulePath, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        return subtree && path.StartsWith(rulePath + "/", StringComparison.OrdinalIgnoreCase);
    }
}
