using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// The admin operations of <c>dfbroker token|cert</c>, the same whether they arrive over the running
/// broker's admin socket (revocations then cut live sessions through <see cref="RevocationList.Revoked"/>)
/// or run on the stopped broker's store.
/// </summary>
public sealed class SecurityAdmin(SecurityStore store, RevocationList revocations, string caPin, TimeProvider time, ILogger? logger = null)
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    public TokenCreated CreateToken(TokenRequest request)
    {
        if (request.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(request));
        }
        var now = time.GetUtcNow();
        if (request.IsApiToken)
        {
            var apiToken = ApiToken.Create();
            store.AddApiToken(apiToken, request.Scopes, request.Topics, now, now + request.Ttl);
            var scope = ApiScopes.Names(request.Scopes);
            BrokerLog.ApiTokenCreated(_logger, apiToken.Id, scope, string.Join(",", request.Topics), now + request.Ttl);
            return new TokenCreated(apiToken.ToString(), apiToken.Id, "", request.Topics, now + request.Ttl, 0) { Scope = scope };
        }
        var token = JoinToken.Create(caPin);
        var record = store.AddToken(token, request.Roles, request.Topics, now, now + request.Ttl, request.Uses);
        BrokerLog.TokenCreated(_logger, record.Id, PeerRoles.Names(record.Roles), string.Join(",", record.Topics), record.Uses, record.ExpiresAt);
        return new TokenCreated(token.ToString(), record.Id, PeerRoles.Names(record.Roles), record.Topics, record.ExpiresAt, record.Uses);
    }

    /// <summary>Revokes a token, and every peer enrolled with it.</summary>
    public RevokeResult RevokeToken(string id)
    {
        if (!store.RevokeToken(id))
        {
            return new RevokeResult(false, []);
        }
        var peers = store.PeersEnrolledWith(id);
        foreach (var peer in peers)
        {
            revocations.Revoke(peer);
        }
        BrokerLog.TokenRevoked(_logger, id, string.Join(",", peers));
        return new RevokeResult(true, peers);
    }

    /// <summary>Revokes a peer id. Found is false for an id this broker never certified (it is revoked anyway: it may come from a company CA).</summary>
    public RevokeResult RevokePeer(string peerId)
    {
        var known = store.IsKnownPeer(peerId);
        revocations.Revoke(peerId);
        return new RevokeResult(known, [peerId]);
    }
}
