using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Manifests;

namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>
/// The mirror's manifests: tag → digest for a short time, digest → verified manifest until evicted
/// (least recently used first). Keys carry the upstream, the repository and the credential
/// fingerprint, so what one user could read is never served to another.
/// </summary>
internal sealed class ManifestCache(TimeProvider time, TimeSpan tagDuration, int capacity)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (ContentDigest Digest, DateTimeOffset Until)> _tags = new();
    private readonly Dictionary<string, LinkedListNode<(string Key, RegistryManifest Manifest)>> _manifests = new();
    private readonly LinkedList<(string Key, RegistryManifest Manifest)> _recent = new();

    public RegistryManifest? Tag(string scope, string tag)
    {
        lock (_gate)
        {
            if (!_tags.TryGetValue(scope + "|" + tag, out var entry) || entry.Until <= time.GetUtcNow())
            {
                return null;
            }
            return DigestLocked(scope, entry.Digest);
        }
    }

    public RegistryManifest? Digest(string scope, ContentDigest digest)
    {
        lock (_gate)
        {
            return DigestLocked(scope, digest);
        }
    }

    public void Add(string scope, string? tag, RegistryManifest manifest)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (tag is not null)
            {
                if (_tags.Count >= capacity)
                {
                    foreach (var stale in _tags.Where(t => t.Value.Until <= now).Select(t => t.Key).ToList())
                    {
                        _tags.Remove(stale);
                    }
                    if (_tags.Count >= capacity)
                    {
                        _tags.Clear();
                    }
                }
                _tags[scope + "|" + tag] = (manifest.Digest, now + tagDuration);
            }
            var key = scope + "|" + manifest.Digest;
            if (_manifests.TryGetValue(key, out var existing))
            {
                _recent.Remove(existing);
            }
            _manifests[key] = _recent.AddFirst((key, manifest));
            while (_manifests.Count > capacity)
            {
                var last = _recent.Last!;
                _recent.RemoveLast();
                _manifests.Remove(last.Value.Key);
            }
        }
    }

    private RegistryManifest? DigestLocked(string scope, ContentDigest digest)
    {
        if (!_manifests.TryGetValue(scope + "|" + digest, out var node))
        {
            return null;
        }
        _recent.Remove(node);
        _recent.AddFirst(node);
        return node.Value.Manifest;
    }
}
