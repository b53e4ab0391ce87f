namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>What a request path under <c>/v2</c> asks the mirror for (see <see cref="MirrorPath"/>).</summary>
public enum MirrorPathKind
{
    /// <summary><c>/v2</c> or <c>/v2/</c>: the API version check.</summary>
    Base,

    /// <summary><c>/v2/&lt;name&gt;/manifests/&lt;tag|digest&gt;</c>.</summary>
    Manifest,

    /// <summary><c>/v2/&lt;name&gt;/blobs/&lt;digest&gt;</c>.</summary>
    Blob,

    /// <summary>Anything else under <c>/v2/</c> (uploads, tag lists, catalogue): the mirror serves pulls only (404).</summary>
    Unsupported,

    /// <summary>A pull with a malformed name, tag or digest (400, with <see cref="MirrorPath.ErrorCode"/>).</summary>
    Invalid,
}
