namespace Dragonfly.PubSub.Agent.Tasks;

/// <summary>Log messages of the task layer (event ids 1100–1149).</summary>
internal static partial class TaskLog
{
    [LoggerMessage(1100, LogLevel.Information, "published {Digest} from {Path}: {Method} into the content store")]
    public static partial void PublishedInPlace(ILogger logger, string digest, string path, string method);

    [LoggerMessage(1101, LogLevel.Warning, "the published file of {Digest} changed on disk; its pieces are not served until it is checked again")]
    public static partial void GuardTripped(ILogger logger, string digest);

    [LoggerMessage(1102, LogLevel.Information, "the published file of {Digest} still holds the same bytes; serving it again")]
    public static partial void GuardReverified(ILogger logger, string digest);
}
