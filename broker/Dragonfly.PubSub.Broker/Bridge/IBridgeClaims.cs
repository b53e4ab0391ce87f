namespace Dragonfly.PubSub.Broker.Bridge;

/// <summary>
/// Which broker of this cluster imports a bridged file, so that each file crosses the bridge once however many
/// brokers here are given <c>--bridge-from</c>. Alone (no <c>--state</c>) this broker always does
/// (<see cref="SingleBrokerBridgeClaims"/>); with several, the first to claim it in Redis (<see cref="RedisBridgeClaims"/>),
/// and another one when that broker dies before it is done (the claim lapses).
/// </summary>
public interface IBridgeClaims
{
    /// <summary>How long a claim lasts unless renewed: a dead importer's file is taken over after at most this.</summary>
    TimeSpan Lease { get; }

    /// <summary>Tries to become the importer of <paramref name="digest"/>.</summary>
    Task<BridgeClaim> ClaimAsync(string digest, CancellationToken cancellationToken);

    /// <summary>Keeps this broker's claim for another <see cref="Lease"/>; false when another broker holds it now.</summary>
    Task<bool> RenewAsync(string digest, CancellationToken cancellationToken);

    /// <summary>The file is imported (published here as <paramref name="localDigest"/>): no broker imports it again.</summary>
    Task CompleteAsync(string digest, string localDigest, CancellationToken cancellationToken);

    /// <summary>Gives up this broker's claim (the import failed), so another broker, or this one later, can take it.</summary>
    Task ReleaseAsync(string digest);
}

/// <summary>The answer to a claim: <see cref="BridgeClaimState.Mine"/> to import now; otherwise who did or does.</summary>
/// <param name="By">The broker that imported the file or is importing it (its id); null when <see cref="BridgeClaimState.Mine"/>.</param>
/// <param name="LocalDigest">For <see cref="BridgeClaimState.Imported"/>: the digest it was published here under.</param>
public readonly record struct BridgeClaim(BridgeClaimState State, string? By = null, string? LocalDigest = null);

public enum BridgeClaimState
{
    /// <summary>This broker imports the file and renews its claim until done.</summary>
    Mine,

    /// <summary>Another broker of this cluster imported it already.</summary>
    Imported,

    /// <summary>Another broker of this cluster is importing it now: look again later.</summary>
    Busy,
}

/// <summary>A broker without shared state is the only importer; its marker files remember what it imported.</summary>
public sealed class SingleBrokerBridgeClaims : IBridgeClaims
{
    public TimeSpan Lease => Timeout.InfiniteTimeSpan;

    public Task<BridgeClaim> ClaimAsync(string digest, CancellationToken cancellationToken) => Task.FromResult(new BridgeClaim(BridgeClaimState.Mine));

    public Task<bool> RenewAsync(string digest, CancellationToken cancellationToken) => Task.FromResult(true);

    public Task CompleteAsync(string digest, string localDigest, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task ReleaseAsync(string digest) => Task.CompletedTask;
}
