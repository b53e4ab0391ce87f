using System.Collections.Concurrent;
using Dragonfly.PubSub.Origins;

namespace Dragonfly.PubSub.Broker.Tests.Preheat;

/// <summary>Answers the registrar's stat (HEAD) of blob URLs from memory and records the headers it was sent.</summary>
internal sealed class FakeRegistryOrigin : IOrigin
{
    private readonly ConcurrentQueue<(Uri Url, IReadOnlyList<KeyValuePair<string, string>> Headers)> _stats = new();

    public IReadOnlyCollection<string> Schemes { get; } = ["https"];

    public Dictionary<Uri, long> Sizes { get; } = [];

    public ConcurrentDictionary<Uri, OriginException> Errors { get; } = new();

    public IReadOnlyList<(Uri Url, IReadOnlyList<KeyValuePair<string, string>> Headers)> Stats => [.. _stats];

    public Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        _stats.Enqueue((url, options.Headers));
        if (Errors.TryGetValue(url, out var error))
        {
            throw error;
        }
        return Task.FromResult(new OriginObject { Url = url, Size = Sizes.GetValueOrDefault(url, 1000), SupportsRanges = true });
    }

    public Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("the broker never reads a blob's bytes");
}
