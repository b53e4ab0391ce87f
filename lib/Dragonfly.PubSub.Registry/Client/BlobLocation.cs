using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Registry.Client;

/// <summary>
/// Where a blob is fetched from and the Authorization header value to send there (null: none).
/// This is what the seed receives as a content-addressed URL task: task id = <see cref="Digest"/>.
/// The header is a secret: keep it in memory, never in logs or announcements.
/// </summary>
public sealed record BlobLocation(ContentDigest Digest, Uri Url, string? Authorization)
{
    public override string ToString() => $"{Digest} at {Url}{(Authorization is null ? "" : " (with authorization)")}";
}
