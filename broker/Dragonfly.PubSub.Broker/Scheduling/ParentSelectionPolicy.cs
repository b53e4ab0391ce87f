using System.Numerics;
using System.Runtime.InteropServices;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>
/// Chooses the parents of one child from the candidates it is given (the task's members, or a sample
/// of them in a large task). Pure apart from the injected clock (failure decay) and random
/// source (tie-break), so it is deterministic under test; thread-safe (shards share it).
/// <para>
/// Candidates are the other peers holding a piece the child lacks, minus those the child reported
/// corrupt, minus peers of another cluster unless the child may cross clusters (a peer without a
/// cluster label is in no cluster and matches everyone). Ordinary peers are ranked by: same cluster,
/// then no cluster, then another cluster (same zone first within each), lower load (children per
/// upload slot), fewer recent failures, more useful pieces, random. The best
/// <see cref="MaxParents"/> are taken, then every publisher/seed that holds something useful is
/// appended as a parent of last resort, so a publisher uploads about one copy while peers share.
/// </para>
/// </summary>
public sealed class ParentSelectionPolicy
{
    /// <summary>Failures older than this no longer count against a parent.</summary>
    public static readonly TimeSpan FailureMemory = TimeSpan.FromSeconds(60);

    private readonly TimeProvider _time;
    private readonly Random _random;

    public ParentSelectionPolicy(TimeProvider time, Random random, int maxParents)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParents, 1);
        _time = time;
        _random = random;
        MaxParents = maxParents;
    }

    public int MaxParents { get; }

    public IReadOnlyList<ParentChoice> Select(ChildProfile child, IEnumerable<ParentCandidate> candidates)
    {
        var now = _time.GetUtcNow();
        var childBits = child.Bitmap.AsSpan();
        var ranked = _rankedScratch ??= [];
        var publishers = _publishersScratch ??= [];
        try
        {
            return Rank(child, candidates, now, childBits, ranked, publishers);
        }
        finally
        {
            ranked.Clear();
            publishers.Clear();
        }
    }

    // Scratch lists per thread, reused by every parent set (Select runs synchronously and never re-enters),
    // so that answering a NeedParents allocates little more than the answer itself.
    [ThreadStatic] private static List<(ParentCandidate Candidate, int Locality, double Load, int Failures, int Useful, int Tiebreak)>? _rankedScratch;
    [ThreadStatic] private static List<ParentCandidate>? _publishersScratch;

    private List<ParentChoice> Rank(ChildProfile child, IEnumerable<ParentCandidate> candidates, DateTimeOffset now, ReadOnlySpan<byte> childBits,
        List<(ParentCandidate Candidate, int Locality, double Load, int Failures, int Useful, int Tiebreak)> ranked, List<ParentCandidate> publishers)
    {
        foreach (var candidate in candidates)
        {
            if (candidate.PeerId == child.PeerId || child.CorruptParents.Contains(candidate.PeerId))
            {
                continue;
            }
            if (!child.MayCrossClusters && OtherCluster(child, candidate))
            {
                continue; // only the cluster's gateway fetches across the boundary
            }
            var useful = candidate.Bitmap.PieceCount == child.Bitmap.PieceCount ? UsefulPieces(candidate.Bitmap.AsSpan(), childBits) : 0;
            if (useful == 0)
            {
                continue;
            }
            if (candidate.IsPublisher)
            {
                publishers.Add(candidate);
                continue;
            }
            ranked.Add((
                candidate,
                Locality(child, candidate),
                (double)candidate.Children / Math.Max(1, candidate.UploadSlots),
                RecentFailures(candidate.Failures, now),
                useful,
                NextTiebreak()));
        }

        ranked.Sort((a, b) =>
        {
            var c = b.Locality.CompareTo(a.Locality);
            if (c == 0) c = a.Load.CompareTo(b.Load);
            if (c == 0) c = a.Failures.CompareTo(b.Failures);
            if (c == 0) c = b.Useful.CompareTo(a.Useful);
            if (c == 0) c = a.Tiebreak.CompareTo(b.Tiebreak);
            return c;
        });

        var choices = new List<ParentChoice>(Math.Min(ranked.Count, MaxParents) + publishers.Count);
        foreach (var entry in ranked.Take(MaxParents))
        {
            choices.Add(new ParentChoice(entry.Candidate.PeerId, LastResort: false));
        }
        // Several publishers/seeds: the least loaded first, so the agent spreads what it must fetch from them.
        foreach (var publisher in publishers
                     .OrderBy(p => RecentFailures(p.Failures, now))
                     .ThenBy(p => (double)p.Children / Math.Max(1, p.UploadSlots))
                     .ThenBy(p => p.PeerId, StringComparer.Ordinal))
        {
            choices.Add(new ParentChoice(publisher.PeerId, LastResort: true));
        }
        return choices;
    }

    // Shards choose parents at the same time; Random is not thread-safe.
    private int NextTiebreak()
    {
        lock (_random)
        {
            return _random.Next();
        }
    }

    /// <summary>Pieces <paramref name="parent"/> holds that <paramref name="child"/> lacks.</summary>
    public static int UsefulPieces(PieceBitmap parent, PieceBitmap child)
    {
        return parent.PieceCount == child.PieceCount ? UsefulPieces(parent.AsSpan(), child.AsSpan()) : 0;
    }

    private static int UsefulPieces(ReadOnlySpan<byte> parent, ReadOnlySpan<byte> child)
    {
        // Eight bytes at a time: this runs for every candidate of every parent set (5,000-peer swarms).
        var count = 0;
        var words = parent.Length / sizeof(ulong);
        var p64 = MemoryMarshal.Cast<byte, ulong>(parent[..(words * sizeof(ulong))]);
        var c64 = MemoryMarshal.Cast<byte, ulong>(child[..(words * sizeof(ulong))]);
        for (var i = 0; i < p64.Length; i++)
        {
            count += BitOperations.PopCount(p64[i] & ~c64[i]);
        }
        for (var i = words * sizeof(ulong); i < parent.Length; i++)
        {
            count += BitOperations.PopCount((uint)(parent[i] & ~child[i] & 0xFF));
        }
        return count;
    }

    public static int RecentFailures(IReadOnlyList<DateTimeOffset> failures, DateTimeOffset now)
    {
        var count = 0;
        foreach (var at in failures)
        {
            if (now - at < FailureMemory)
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>Both carry a cluster label and the labels differ.</summary>
    public static bool OtherCluster(ChildProfile child, ParentCandidate candidate) =>
        child.Cluster.Length > 0 && candidate.Cluster.Length > 0 && !string.Equals(child.Cluster, candidate.Cluster, StringComparison.Ordinal);

    // 4 = same cluster, 2 = either has no cluster label (matches everyone), 0 = another cluster;
    // +1 = same zone (both labelled).
    private static int Locality(ChildProfile child, ParentCandidate candidate)
    {
        var score = child.Cluster.Length == 0 || candidate.Cluster.Length == 0 ? 2
            : string.Equals(child.Cluster, candidate.Cluster, StringComparison.Ordinal) ? 4
            : 0;
        if (child.Zone.Length > 0 && string.Equals(child.Zone, candidate.Zone, StringComparison.Ordinal))
        {
            score += 1;
        }
        return score;
    }
}
