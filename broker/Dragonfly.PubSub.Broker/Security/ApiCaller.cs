namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The bearer of a valid API token, as <see cref="ApiAccessMiddleware"/> leaves it in the request's items
/// for the endpoints behind it: which token, its scopes and its topic filters (none: every topic).
/// </summary>
public sealed record ApiCaller(string TokenId, IReadOnlyList<ApiScope> Scopes, IReadOnlyList<string> Topics)
{
    private static readonly object ItemKey = new();

    public bool Has(ApiScope scope) => Scopes.Contains(scope);

    /// <summary>The token's bearer of this request, if it presented a valid one.</summary>
    public static ApiCaller? Of(Microsoft.AspNetCore.Http.HttpContext context) =>
        context.Items.TryGetValue(ItemKey, out var caller) ? caller as ApiCaller : null;

    internal void AttachTo(Microsoft.AspNetCore.Http.HttpContext context) => context.Items[ItemKey] = this;
}
