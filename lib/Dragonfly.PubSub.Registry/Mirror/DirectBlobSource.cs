using System.Collections.Concurrent;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Client;

namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>
/// Blobs straight from the registry into <c>&lt;cacheDirectory&gt;/sha256/&lt;hex&gt;</c>, verified
/// and renamed into place, one download per digest however many ask at once. For tests and as the
/// fallback when no swarm is there.
/// </summary>
public sealed class DirectBlobSource(string cacheDirectory, RegistryClient client, TimeSpan? downloadTimeout = null) : IBlobSource
{
    private readonly ConcurrentDictionary<ContentDigest, Lazy<Task<string>>> _downloads = new();
    private readonly TimeSpan _timeout = downloadTimeout ?? TimeSpan.FromHours(1);

    public string CacheDirectory { get; } = Path.GetFullPath(cacheDirectory);

    public string PathOf(ContentDigest digest) => Path.Combine(CacheDirectory, "sha256", digest.Hex);

    public Task<string> GetBlobPathAsync(BlobRequest request, CancellationToken ct)
    {
        var path = PathOf(request.Digest);
        if (File.Exists(path))
        {
            return Task.FromResult(path);
        }
        Lazy<Task<string>>? download = null;
        download = new Lazy<Task<string>>(() => DownloadAsync(request, path, download!));
        // A caller that gives up does not cancel the download others wait for.
        return _downloads.GetOrAdd(request.Digest, download).Value.WaitAsync(ct);
    }

    private async Task<string> DownloadAsync(BlobRequest request, string path, Lazy<Task<string>> self)
    {
        try
        {
            await Task.Yield();
            if (File.Exists(path))
            {
                return path; // another download finished between the caller's check and this one
            }
            using var timeout = new CancellationTokenSource(_timeout);
            await client.DownloadBlobAsync(request.Url, request.Authorization, request.Digest, path, timeout.Token);
            return path;
        }
        finally
        {
            _downloads.TryRemove(KeyValuePair.Create(request.Digest, self));
        }
    }
}
