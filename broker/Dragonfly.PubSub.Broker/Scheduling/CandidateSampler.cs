namespace Dragonfly.PubSub.Broker.Scheduling;

/// <summary>
/// Draws the few members a parent set is chosen from, so that answering one child costs the same in a
/// swarm of 10 or of 5,000 (Dragonfly2's scheduler does the same: <c>FilterParentLimit</c> random peers,
/// then the evaluator ranks only those). A pool no larger than the sample is taken whole, in its own
/// order and without a draw, so small swarms behave exactly as if every member were ranked.
/// <para>
/// Draws are uniform and without repetition; a drawn member that <c>accept</c> rejects (no useful piece,
/// another cluster, reported corrupt) costs a draw, and after <see cref="MaxDrawsPerSlot"/> draws per
/// wanted candidate the sample is what was found: a nearly complete child in a big swarm may get fewer
/// candidates rather than a scan of everyone. Not thread-safe: one per shard.
/// </para>
/// </summary>
public sealed class CandidateSampler
{
    public const int MaxDrawsPerSlot = 4;

    private readonly Random _random;
    private readonly HashSet<int> _drawn = [];

    public CandidateSampler(Random random, int sampleSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sampleSize, 1);
        _random = random;
        SampleSize = sampleSize;
    }

    /// <summary>Candidates ranked per parent set at most.</summary>
    public int SampleSize { get; }

    /// <summary>The sample for <paramref name="maxParents"/> parents: four candidates per parent, at least 16.</summary>
    public static int SizeFor(int maxParents) => Math.Max(16, 4 * maxParents);

    /// <summary>
    /// Adds to <paramref name="into"/> up to <see cref="SampleSize"/> distinct items of <paramref name="pool"/>
    /// that <paramref name="accept"/> takes. Returns false when the pool was taken whole (no draw was made).
    /// </summary>
    public bool Sample<T>(IReadOnlyList<T> pool, Func<T, bool> accept, List<T> into)
    {
        if (pool.Count <= SampleSize)
        {
            foreach (var item in pool)
            {
                if (accept(item))
                {
                    into.Add(item);
                }
            }
            return false;
        }
        _drawn.Clear();
        var found = 0;
        var draws = SampleSize * MaxDrawsPerSlot;
        for (var i = 0; i < draws && found < SampleSize && _drawn.Count < pool.Count; i++)
        {
            var index = _random.Next(pool.Count);
            if (!_drawn.Add(index))
            {
                continue; // drawn before: a repeat is not a new candidate
            }
            var item = pool[index];
            if (accept(item))
            {
                into.Add(item);
                found++;
            }
        }
        return true;
    }
}
