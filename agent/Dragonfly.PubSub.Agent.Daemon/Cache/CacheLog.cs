namespace Dragonfly.PubSub.Agent.Cache;

/// <summary>The cache's log lines (event ids 1200–1219), source-generated.</summary>
internal static partial class CacheLog
{
    [LoggerMessage(1200, LogLevel.Information, "cache: evicted {Kind} {Digest} {Name} ({Size}, last used {LastUsed:u}) to keep {Limit}")]
    public static partial void Evicted(ILogger logger, string kind, string digest, string name, string size, DateTime lastUsed, string limit);

    [LoggerMessage(1201, LogLevel.Warning, "cache: {Needed} should be freed ({Limit}) but only {Freeable} can go; the rest is in progress, waited on or shared with outputs")]
    public static partial void ShortOfSpace(ILogger logger, string needed, string limit, string freeable);

    [LoggerMessage(1202, LogLevel.Warning, "task {Digest} {Name} waits for disk space: {Error}")]
    public static partial void WaitingForSpace(ILogger logger, string digest, string name, string error);

    [LoggerMessage(1203, LogLevel.Information, "task {Digest} {Name} resumes: {Free} free, {Missing} still to download")]
    public static partial void ResumedAfterSpace(ILogger logger, string digest, string name, string free, string missing);

    [LoggerMessage(1204, LogLevel.Warning, "cache collection failed: {Reason}")]
    public static partial void CollectionFailed(ILogger logger, Exception exception, string reason);

    [LoggerMessage(1205, LogLevel.Information, "cache: keeping at most {CacheSize} and at least {MinFree} free on the data dir's filesystem")]
    public static partial void Limits(ILogger logger, string cacheSize, string minFree);
}
