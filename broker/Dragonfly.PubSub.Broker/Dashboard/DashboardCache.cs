namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// Keeps each built answer (the view and its JSON) for <see cref="Lifetime"/>: any number of pollers and
/// event streams cost one build per second per key, and callers that arrive during a build share it.
/// Keys are few ("" = the default view, one per selected task, one per swarm asked for); past
/// <see cref="MaxKeys"/> the cache starts over.
/// </summary>
internal sealed class DashboardCache(TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(1);
    public const int MaxKeys = 64;

    /// <summary>A build that takes longer than this fails (a stuck swarm loop must not pile up waiting requests).</summary>
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, (Task<CachedAnswer> Task, DateTimeOffset At)> _entries = new(StringComparer.Ordinal);
    private long _builds;

    /// <summary>Builds done since the start (tests check that many readers cause few builds).</summary>
    public long Builds => Interlocked.Read(ref _builds);

    /// <summary>The answer of <paramref name="key"/>, built by <paramref name="build"/> when the cached one is older than <see cref="Lifetime"/>.</summary>
    public Task<CachedAnswer> GetAsync(string key, Func<CancellationToken, Task<CachedAnswer>> build, CancellationToken cancellationToken)
    {
        Task<CachedAnswer> task;
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_entries.TryGetValue(key, out var entry) && !entry.Task.IsFaulted && !entry.Task.IsCanceled
                && (!entry.Task.IsCompleted || now - entry.At < Lifetime))
            {
                task = entry.Task;
            }
            else
            {
                if (_entries.Count >= MaxKeys)
                {
                    _entries.Clear();
                }
                Interlocked.Increment(ref _builds);
                task = BuildAsync(build);
                _entries[key] = (task, now);
            }
        }
        return task.WaitAsync(cancellationToken);
    }

    private static async Task<CachedAnswer> BuildAsync(Func<CancellationToken, Task<CachedAnswer>> build)
    {
        // Not the caller's token: other callers share this build.
        using var timeout = new CancellationTokenSource(BuildTimeout);
        await Task.Yield();
        return await build(timeout.Token).ConfigureAwait(false);
    }
}

/// <summary>A built answer: the view (null: nothing to show, 404) and its UTF-8 JSON, gzipped once when first asked for.</summary>
internal sealed record CachedAnswer(object? View, byte[] Json)
{
    private byte[]? _gzip;

    /// <summary>The JSON gzipped (a browser's request says it takes gzip; 180 KB at 1,000 agents become a tenth of that).</summary>
    public byte[] Gzip
    {
        get
        {
            if (Volatile.Read(ref _gzip) is { } done)
            {
                return done;
            }
            using var buffer = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest))
            {
                gzip.Write(Json);
            }
            var bytes = buffer.ToArray();
            Volatile.Write(ref _gzip, bytes);
            return bytes;
        }
    }
}
