using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Cache;

/// <summary>One stored file as the eviction policy weighs it.</summary>
/// <param name="File">The file, its size on disk and its links.</param>
/// <param name="Name">The artifact's name when a task records it; null for a file without a task.</param>
/// <param name="Topic">The task's topic, if any.</param>
/// <param name="LastUsed">When it was last asked for, placed or served (UTC); the least recent goes first.</param>
/// <param name="PinnedBecause">Why the task layer keeps it whatever its age (in progress, waited on); null = evictable.</param>
internal sealed record CacheItem(StoredFile File, string? Name, string? Topic, DateTime LastUsed, string? PinnedBecause);
