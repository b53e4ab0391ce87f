using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// A URL task as the registrar hands it to the coordinator after one stat of the origin. The URL and
/// headers stay in the coordinator's memory only: never stored, logged or announced.
/// </summary>
public sealed record UrlTaskRegistration
{
    /// <summary>What identifies the request before the stat (canonical URL, tag, requested piece size); later requests with it skip the stat.</summary>
    public required string Key { get; init; }

    /// <summary>sha256:&lt;hex&gt;: <c>UrlTaskId.Compute</c>, or the expected digest of a content-addressed task.</summary>
    public required string TaskId { get; init; }

    public required Uri Url { get; init; }

    /// <summary>The URL with credentials and signatures removed, for messages and logs.</summary>
    public required string RedactedUrl { get; init; }

    public IReadOnlyList<Header> Headers { get; init; } = [];

    /// <summary>The object's size as the origin reported it.</summary>
    public required long Size { get; init; }

    public required int PieceSize { get; init; }

    /// <summary>The caller asked for <see cref="PieceSize"/> (it was not derived from the size).</summary>
    public bool PieceSizeRequested { get; init; }

    /// <summary>--digest: what the whole file must hash to; null = anything.</summary>
    public string? ExpectedDigest { get; init; }

    public bool ContentAddressed { get; init; }

    public required string Name { get; init; }
    public string Topic { get; init; } = "";
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public string Requester { get; init; } = "";
}
