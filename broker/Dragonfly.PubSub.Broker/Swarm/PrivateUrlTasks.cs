using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// A URL task that was registered with credentials keeps that fact in its manifest (a label; never the
/// credentials) once it is stored, so that after the live task is gone (sourced and forgotten, a broker
/// restart) a bare join by its id is still refused: the joiner must register the URL itself and so be
/// checked at the origin with its own credentials (issue 11, attack 4).
/// </summary>
internal static class PrivateUrlTasks
{
    public const string Label = "dragonfly.io/credentials";
    public const string Required = "required";

    public static bool IsPrivate(Manifest manifest) =>
        manifest.UrlTask && manifest.Labels.TryGetValue(Label, out var value) && value == Required;

    /// <summary>
    /// Why <paramref name="peerId"/> may not join the stored task (null: it may): only its registrant, or a
    /// subscriber of the topic it was announced on, joins without registering the URL again.
    /// </summary>
    public static string? JoinRefusal(Manifest manifest, string peerId, IReadOnlyList<string> grants) =>
        !IsPrivate(manifest) || manifest.Publisher == peerId
        || (manifest.Topic.Length > 0 && Security.TopicGrants.Allow(grants, manifest.Topic))
            ? null
            : "the URL task was registered with credentials; register it yourself (e.g. dfget URL) with credentials its origin accepts";
}
