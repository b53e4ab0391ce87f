namespace Dragonfly.PubSub.Client.Preheat;

/// <summary>
/// The body of the broker's <c>POST /api/v1/preheat</c>: which image, for which platforms
/// (<c>["linux/arm64"]</c>, several, or <c>["all"]</c>; there is no default), announced on which topic.
/// </summary>
public sealed record PreheatRequest
{
    /// <summary>An image reference, <c>[registry[:port]/]repository[:tag][@sha256:...]</c>.</summary>
    public required string Image { get; init; }

    /// <summary><c>os/arch[/variant]</c> values, or the single value <c>all</c>.</summary>
    public required IReadOnlyList<string> Platforms { get; init; }

    /// <summary>The topic whose subscribers prefetch the blobs.</summary>
    public required string Topic { get; init; }
}
