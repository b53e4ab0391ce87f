namespace Dragonfly.PubSub.Broker.Security;

/// <summary>What an API token (<c>dfbroker token create --scope</c>) lets its bearer do on the broker's HTTP API.</summary>
public enum ApiScope
{
    /// <summary>GET the dashboard and <c>/api/v1/*</c> (tasks, status, preheat jobs) from off the broker's host.</summary>
    Read,

    /// <summary>POST <c>/api/v1/preheat</c> (within the token's topics); also reads preheat jobs.</summary>
    Preheat,
}
