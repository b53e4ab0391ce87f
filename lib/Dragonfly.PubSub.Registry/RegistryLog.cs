using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Registry;

/// <summary>
/// Source-generated log messages of the registry client and mirror (event ids 6000–6099).
/// Never pass a credential, token or Authorization value: only registry names, repositories,
/// references and digests.
/// </summary>
internal static partial class RegistryLog
{
    [LoggerMessage(6000, LogLevel.Debug, "Registry {Registry} authentication: {Scheme} (realm {Realm})")]
    public static partial void LearnedChallenge(ILogger logger, string registry, string scheme, string realm);

    [LoggerMessage(6001, LogLevel.Debug, "Fetched a token for {Registry} scope {Scope}, valid {Seconds} s")]
    public static partial void TokenFetched(ILogger logger, string registry, string scope, long seconds);

    [LoggerMessage(6002, LogLevel.Debug, "{Method} {Url} → {Status}")]
    public static partial void Request(ILogger logger, string method, string url, int status);

    [LoggerMessage(6003, LogLevel.Information, "Resolved {Image} ({Digest}) for {Platforms}: {Blobs} blobs")]
    public static partial void Resolved(ILogger logger, string image, string digest, string platforms, int blobs);

    [LoggerMessage(6004, LogLevel.Information, "Downloaded blob {Digest} ({Bytes} bytes) from {Registry}")]
    public static partial void BlobDownloaded(ILogger logger, string digest, long bytes, string registry);

    [LoggerMessage(6010, LogLevel.Debug, "Mirror {Method} {Path} (upstream {Registry}) → {Status}")]
    public static partial void MirrorServed(ILogger logger, string method, string path, string registry, int status);

    [LoggerMessage(6011, LogLevel.Warning, "Mirror {Method} {Path} (upstream {Registry}) failed with {Status}: {Reason}")]
    public static partial void MirrorFailed(ILogger logger, string method, string path, string registry, int status, string reason);

    /// <summary>A 4xx: part of normal client behaviour (a login challenge, a probe for a missing tag).</summary>
    [LoggerMessage(6013, LogLevel.Information, "Mirror {Method} {Path} (upstream {Registry}) answered {Status}: {Reason}")]
    public static partial void MirrorRefused(ILogger logger, string method, string path, string registry, int status, string reason);

    [LoggerMessage(6012, LogLevel.Error, "Mirror {Method} {Path} failed unexpectedly")]
    public static partial void MirrorCrashed(ILogger logger, Exception exception, string method, string path);
}
