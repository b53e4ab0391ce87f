namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>
/// Where the mirror gets blob bytes: dfagent implements it with the swarm (task id = digest, the
/// seed fetching <see cref="BlobRequest.Url"/> once); <see cref="DirectBlobSource"/> goes straight
/// to the registry.
/// </summary>
public interface IBlobSource
{
    /// <summary>
    /// The path of a local file holding the whole blob, verified against its digest. Expected
    /// failures are a <see cref="Client.RegistryException"/> (NotFound, Unauthorized, DigestMismatch,
    /// Unavailable), which the mirror turns into the matching distribution API error.
    /// </summary>
    Task<string> GetBlobPathAsync(BlobRequest request, CancellationToken ct);
}
