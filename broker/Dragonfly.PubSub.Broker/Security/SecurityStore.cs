using Dragonfly.PubSub.Security;
using LiteDB;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Join tokens (secret stored as SHA-256), revoked peer ids and the log of issued certificates, in the
/// broker's LiteDB (<c>broker.db</c>). Used by the running broker and, when it is stopped, by
/// <c>dfbroker token|cert</c> directly.
/// </summary>
public sealed class SecurityStore
{
    private readonly ILiteCollection<BsonDocument> _tokens;
    private readonly ILiteCollection<BsonDocument> _revoked;
    private readonly ILiteCollection<BsonDocument> _issued;
    private readonly Lock _lock = new();

    public SecurityStore(LiteDatabase database)
    {
        _tokens = database.GetCollection("joinTokens");
        _revoked = database.GetCollection("revokedPeers");
        _issued = database.GetCollection("issuedCertificates");
        _issued.EnsureIndex("peerId");
        _issued.EnsureIndex("tokenId");
    }

    public TokenRecord AddToken(JoinToken token, IReadOnlyList<PeerRole> roles, IReadOnlyList<string> topics, DateTimeOffset now, DateTimeOffset expiresAt, int uses)
    {
        lock (_lock)
        {
            _tokens.Insert(new BsonDocument
            {
                ["_id"] = token.Id,
                ["secretSha256"] = JoinToken.HashSecret(token.Secret),
                ["role"] = PeerRoles.Names(roles),
                ["topics"] = new BsonArray(topics.Select(t => new BsonValue(t))),
                ["createdAt"] = now.UtcDateTime,
                ["expiresAt"] = expiresAt.UtcDateTime,
                ["uses"] = uses,
                ["used"] = 0,
                ["revoked"] = false,
            });
        }
        return new TokenRecord(token.Id, roles, topics, now, expiresAt, uses, 0, false);
    }

    /// <summary>Checks a presented token and, when it is good, spends one of its uses (atomically).</summary>
    public TokenClaim Claim(JoinToken token, DateTimeOffset now)
    {
        lock (_lock)
        {
            var document = _tokens.FindById(token.Id);
            // Unknown id and wrong secret read the same, so a guesser learns nothing. An API token never enrols.
            if (document is null || IsApiToken(document) || !token.SecretMatches(document["secretSha256"].AsString))
            {
                return new TokenClaim(null, $"join token {token.Id} is not known to this broker; make one with: dfbroker token create --role agent");
            }
            var record = ToRecord(document);
            if (record.Revoked)
            {
                return new TokenClaim(null, $"join token {token.Id} was revoked; make a new one with: dfbroker token create");
            }
            if (now >= record.ExpiresAt)
            {
                return new TokenClaim(null, $"join token {token.Id} expired at {record.ExpiresAt:yyyy-MM-ddTHH:mm:ssZ}; make a new one with: dfbroker token create");
            }
            if (record.Used >= record.Uses)
            {
                return new TokenClaim(null, $"join token {token.Id} was already used {record.Used} time(s) of {record.Uses}; make a new one (--uses N lets one token enrol N peers)");
            }
            document["used"] = record.Used + 1;
            _tokens.Update(document);
            return new TokenClaim(record with { Used = record.Used + 1 }, null);
        }
    }

    /// <summary>Stores an API bearer token (<c>dfbroker token create --scope</c>): its scopes and topics, a hash of its secret.</summary>
    public void AddApiToken(ApiToken token, IReadOnlyList<ApiScope> scopes, IReadOnlyList<string> topics, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        lock (_lock)
        {
            _tokens.Insert(new BsonDocument
            {
                ["_id"] = token.Id,
                ["kind"] = ApiTokenKind,
                ["secretSha256"] = token.SecretHash,
                ["role"] = "",
                ["scopes"] = ApiScopes.Names(scopes),
                ["topics"] = new BsonArray(topics.Select(t => new BsonValue(t))),
                ["createdAt"] = now.UtcDateTime,
                ["expiresAt"] = expiresAt.UtcDateTime,
                ["uses"] = 0,
                ["used"] = 0,
                ["revoked"] = false,
            });
        }
    }

    /// <summary>The bearer of a presented API token (not spent: it is shown on every request), or why it is refused (one line, no secret).</summary>
    public (ApiCaller? Caller, string? Refusal) CheckApiToken(ApiToken token, DateTimeOffset now)
    {
        var document = _tokens.FindById(token.Id);
        if (document is null || !IsApiToken(document) || !token.SecretMatches(document["secretSha256"].AsString))
        {
            return (null, $"API token {token.Id} is not known to this broker; make one on the broker's host with: dfbroker token create --scope read");
        }
        if (document["revoked"].AsBoolean)
        {
            return (null, $"API token {token.Id} was revoked; make a new one with: dfbroker token create --scope ...");
        }
        var expiresAt = new DateTimeOffset(document["expiresAt"].AsDateTime.ToUniversalTime());
        if (now >= expiresAt)
        {
            return (null, $"API token {token.Id} expired at {expiresAt:yyyy-MM-ddTHH:mm:ssZ}; make a new one with: dfbroker token create --scope ...");
        }
        ApiScopes.TryParseList(document["scopes"].AsString, out var scopes);
        return (new ApiCaller(token.Id, scopes, [.. document["topics"].AsArray.Select(t => t.AsString)]), null);
    }

    public TokenRecord? FindToken(string id) => _tokens.FindById(id) is { } document ? ToRecord(document) : null;

    /// <summary>Marks a token revoked; false when no token has that id.</summary>
    public bool RevokeToken(string id)
    {
        lock (_lock)
        {
            var document = _tokens.FindById(id);
            if (document is null)
            {
                return false;
            }
            document["revoked"] = true;
            _tokens.Update(document);
            return true;
        }
    }

    /// <summary>The peer ids certified through a token.</summary>
    public IReadOnlyList<string> PeersEnrolledWith(string tokenId) =>
        [.. _issued.Find(Query.EQ("tokenId", tokenId)).Select(d => d["peerId"].AsString).Distinct()];

    /// <summary>Whether the broker ever certified this peer id (enrolment, renewal or its seed).</summary>
    public bool IsKnownPeer(string peerId) => _issued.Exists(Query.EQ("peerId", peerId));

    public void RecordIssuance(string peerId, string? tokenId, PeerIdentity identity, string serial, DateTimeOffset notAfter, DateTimeOffset now)
    {
        _issued.Insert(new BsonDocument
        {
            ["peerId"] = peerId,
            ["tokenId"] = tokenId is null ? BsonValue.Null : new BsonValue(tokenId),
            ["role"] = identity.RoleNames,
            ["serial"] = serial,
            ["notAfter"] = notAfter.UtcDateTime,
            ["issuedAt"] = now.UtcDateTime,
        });
    }

    /// <summary>Adds a peer id to the revocation list; false when it was there already.</summary>
    public bool RevokePeer(string peerId, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_revoked.FindById(peerId) is not null)
            {
                return false;
            }
            _revoked.Insert(new BsonDocument { ["_id"] = peerId, ["revokedAt"] = now.UtcDateTime });
            return true;
        }
    }

    public IReadOnlyList<string> RevokedPeers() => [.. _revoked.FindAll().Select(d => d["_id"].AsString).Order(StringComparer.Ordinal)];

    private const string ApiTokenKind = "api";

    private static bool IsApiToken(BsonDocument document) => document.TryGetValue("kind", out var kind) && kind.IsString && kind.AsString == ApiTokenKind;

    private static TokenRecord ToRecord(BsonDocument document)
    {
        // One role ("agent") or several ("agent,publisher"); both read as a list.
        PeerRoles.TryParseList(document["role"].AsString, out var roles);
        return new TokenRecord(
            document["_id"].AsString,
            roles.Count > 0 ? roles : [PeerRole.Agent],
            [.. document["topics"].AsArray.Select(t => t.AsString)],
            new DateTimeOffset(document["createdAt"].AsDateTime.ToUniversalTime()),
            new DateTimeOffset(document["expiresAt"].AsDateTime.ToUniversalTime()),
            document["uses"].AsInt32,
            document["used"].AsInt32,
            document["revoked"].AsBoolean);
    }
}
