using System.Threading.Channels;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Cache;

/// <summary>
/// Keeps the content store within <c>--cache-size</c> and the data dir's filesystem above
/// <c>--min-free</c>: a collection lists the store's files, asks the task manager what each is to
/// its tasks, lets <see cref="EvictionPolicy"/> choose, and has the task manager evict (it owns the
/// task table, so nothing in use can go between the choice and the removal). It also resumes
/// downloads that stopped on a full disk once their missing bytes fit again. Runs after every task
/// that ends, every 10 s (every 2 s while a download waits for space), and on <c>dfagent gc</c>.
/// </summary>
internal sealed class CacheCollector : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan WaitingPeriod = TimeSpan.FromSeconds(2);

    private readonly AgentOptions _options;
    private readonly TaskManager _tasks;
    private readonly ContentStore _content;
    private readonly ILogger<CacheCollector> _logger;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private bool _wasShort;

    public CacheCollector(AgentOptions options, TaskManager tasks, ContentStore content, ILogger<CacheCollector> logger)
    {
        _options = options;
        _tasks = tasks;
        _content = content;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        AgentMetrics.CacheLimitBytes.Set(_options.CacheSize);
        if (_options.CacheSize > 0 || !_options.MinFree.IsNone)
        {
            CacheLog.Limits(_logger, _options.CacheSize > 0 ? ByteSize.Format(_options.CacheSize) : "unlimited", _options.MinFree.ToString());
        }
        _tasks.TaskChanged += OnTaskChanged;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await CollectAsync(dryRun: false, cacheSize: null, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    // A failed collection must not stop the agent: the next one tries again.
                    CacheLog.CollectionFailed(_logger, e, e.Message);
                }
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(_tasks.AnyWaitingForSpace ? WaitingPeriod : Period);
                try
                {
                    await _wake.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // The period is up: collect again.
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _tasks.TaskChanged -= OnTaskChanged;
        }
    }

    /// <summary>
    /// One collection: evicts what the limits ask for (or, with <paramref name="dryRun"/>, only
    /// reports it). <paramref name="cacheSize"/> overrides <c>--cache-size</c> for this run.
    /// </summary>
    public async Task<CacheReport> CollectAsync(bool dryRun, long? cacheSize, CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // --cache-size 0 means no limit; a size asked for once (dfagent gc --cache-size 0) trims to it.
            var limit = cacheSize ?? (_options.CacheSize > 0 ? _options.CacheSize : null);
            var space = DiskSpace.Of(_options.DataDir);
            var floor = _options.MinFree.BytesOf(space.Total);
            var items = _tasks.CacheItems(_content.ListFiles());
            var wanted = floor + _tasks.BytesWaitingForSpace();
            var plan = EvictionPolicy.Plan(items, limit, wanted, space.Available);
            var evicted = new List<CacheItem>();
            if (dryRun)
            {
                evicted.AddRange(plan.Evict);
            }
            else
            {
                foreach (var item in plan.Evict)
                {
                    if (_tasks.Evict(item))
                    {
                        evicted.Add(item);
                        AgentMetrics.CacheEvictions.Inc();
                        AgentMetrics.CacheEvictedBytes.Inc(item.File.Bytes);
                        CacheLog.Evicted(_logger, Kind(item), item.File.Digest.ToString(), item.Name ?? "(no task)", ByteSize.Format(item.File.Bytes),
                            item.LastUsed, Describe(limit, floor));
                    }
                }
                AgentMetrics.CacheBytes.Set(plan.CacheBytes - evicted.Sum(i => i.File.Bytes));
                var shortNow = plan.ShortOfSpace;
                if (shortNow && !_wasShort)
                {
                    CacheLog.ShortOfSpace(_logger, ByteSize.Format(plan.BytesToFree), Describe(limit, floor), ByteSize.Format(plan.EvictBytes));
                }
                _wasShort = shortNow;
                if (_tasks.AnyWaitingForSpace)
                {
                    var now = DiskSpace.Of(_options.DataDir);
                    _tasks.ResumeWaitingForSpace(now.Available - floor);
                }
            }
            return new CacheReport
            {
                DryRun = dryRun,
                CacheBytes = plan.CacheBytes,
                CacheLimit = limit,
                MinFree = floor,
                FreeBytes = space.Available,
                BytesToFree = plan.BytesToFree,
                Evicted = evicted.Select(i => ToReport(i, null)).ToList(),
                Pinned = plan.Pinned.Select(i => ToReport(i, i.PinnedBecause)).ToList(),
            };
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private void OnTaskChanged(TaskInfo info)
    {
        if (info.State is TaskStates.Succeeded or TaskStates.Failed)
        {
            _wake.Writer.TryWrite(true);
        }
    }

    private static string Describe(long? limit, long floor) =>
        (limit is { } size ? $"the cache within {ByteSize.Format(size)}" : "no cache size")
        + (floor > 0 ? $" and {ByteSize.Format(floor)} free" : "");

    private static string Kind(CacheItem item) => item.File.Partial ? "partial" : "content";

    private static CacheEviction ToReport(CacheItem item, string? reason) => new()
    {
        Digest = item.File.Digest.ToString(),
        Name = item.Name,
        Topic = item.Topic,
        Kind = Kind(item),
        Bytes = item.File.Bytes,
        LastUsed = item.LastUsed,
        Reason = reason,
    };

    public override void Dispose()
    {
        _oneAtATime.Dispose();
        base.Dispose();
    }
}
