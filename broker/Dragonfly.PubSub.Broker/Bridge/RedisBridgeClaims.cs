using Dragonfly.PubSub.Broker.State;
using StackExchange.Redis;

namespace Dragonfly.PubSub.Broker.Bridge;

/// <summary>
/// The brokers of one cluster on one <c>--state</c> share the imports of the bridge: <c>dragonfly:bridge:claim:&lt;digest&gt;</c>
/// is a lock (StackExchange.Redis <c>LockTake</c>: set if absent, with a time to live) holding the importer's id,
/// renewed while it fetches; <c>dragonfly:bridge:imported:&lt;digest&gt;</c> holds "local-digest broker-id" once it is
/// done, kept 30 days (a retained announcement delivered again to a broker that never saw it is then skipped).
/// </summary>
public sealed class RedisBridgeClaims(RedisState state, string brokerId) : IBridgeClaims
{
    private static readonly TimeSpan KeepImported = TimeSpan.FromDays(30);

    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(30);

    public async Task<BridgeClaim> ClaimAsync(string digest, CancellationToken cancellationToken)
    {
        var database = state.Database;
        if (await ImportedAsync(database, digest).ConfigureAwait(false) is { } imported)
        {
            return imported;
        }
        if (!await database.LockTakeAsync(ClaimKey(digest), brokerId, Lease).ConfigureAwait(false))
        {
            var holder = await database.LockQueryAsync(ClaimKey(digest)).ConfigureAwait(false);
            if (holder != brokerId)
            {
                // Null: the holder finished or gave up between the two calls; the next look settles it.
                return new BridgeClaim(BridgeClaimState.Busy, holder.IsNull ? "(just released)" : holder.ToString());
            }
            await database.LockExtendAsync(ClaimKey(digest), brokerId, Lease).ConfigureAwait(false); // ours from before a restart
        }
        // Done by another broker between the first look and the claim: release it again, import nothing.
        if (await ImportedAsync(database, digest).ConfigureAwait(false) is { } done)
        {
            await database.LockReleaseAsync(ClaimKey(digest), brokerId).ConfigureAwait(false);
            return done;
        }
        return new BridgeClaim(BridgeClaimState.Mine);
    }

    public Task<bool> RenewAsync(string digest, CancellationToken cancellationToken) =>
        state.Database.LockExtendAsync(ClaimKey(digest), brokerId, Lease);

    public async Task CompleteAsync(string digest, string localDigest, CancellationToken cancellationToken)
    {
        var database = state.Database;
        await database.StringSetAsync(ImportedKey(digest), $"{localDigest} {brokerId}", KeepImported).ConfigureAwait(false);
        await database.LockReleaseAsync(ClaimKey(digest), brokerId).ConfigureAwait(false);
    }

    public Task ReleaseAsync(string digest) => state.Database.LockReleaseAsync(ClaimKey(digest), brokerId);

    private static async Task<BridgeClaim?> ImportedAsync(IDatabase database, string digest)
    {
        var value = await database.StringGetAsync(ImportedKey(digest)).ConfigureAwait(false);
        if (value.IsNull)
        {
            return null;
        }
        var parts = value.ToString().Split(' ', 2);
        return new BridgeClaim(BridgeClaimState.Imported, By: parts.Length > 1 ? parts[1] : "?", LocalDigest: parts[0]);
    }

    private static RedisKey ClaimKey(string digest) => RedisState.Key("bridge:claim:" + digest);

    private static RedisKey ImportedKey(string digest) => RedisState.Key("bridge:imported:" + digest);
}
