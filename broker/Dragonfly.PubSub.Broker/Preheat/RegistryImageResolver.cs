using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>
/// <see cref="IImageResolver"/> over the registry library's <see cref="RegistryClient"/> (plain HTTP for
/// loopback registries, Basic and Bearer auth), with the broker's registry logins.
/// </summary>
public sealed class RegistryImageResolver(RegistryClient client, RegistryCredentials credentials) : IImageResolver
{
    public Task<ResolvedImage> ResolveAsync(ImageReference image, PlatformSelector platforms, CancellationToken cancellationToken) =>
        client.ResolveAsync(image, platforms, AuthFor(image.Registry), cancellationToken);

    public Task<BlobLocation> LocateAsync(ImageReference image, ContentDigest digest, CancellationToken cancellationToken) =>
        client.GetBlobLocationAsync(image, digest, AuthFor(image.Registry), cancellationToken);

    private RegistryAuth AuthFor(string registry) =>
        credentials.For(registry) is { } login ? RegistryAuth.Basic(login.Username, login.Password) : RegistryAuth.Anonymous;
}
