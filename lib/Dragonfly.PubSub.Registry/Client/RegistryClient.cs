using System.Collections.Concurrent;
using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Registry.Client;

/// <summary>
/// The pull side of the OCI distribution API: manifests by tag or digest (verified), image
/// resolution for platforms, blob URLs with the Authorization to use, and verified blob downloads.
/// Answers Basic and Bearer challenges with the <see cref="RegistryAuth"/> of each call. Thread-safe;
/// one instance serves many registries and many users (caches are keyed by credential fingerprint).
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RegistryAuthenticator _authenticator;
    private const int MaxGrants = 10_000;

    private readonly ConcurrentDictionary<string, DateTimeOffset> _granted = new();

    /// <param name="handler">The HTTP handler to use (owned by the caller); null: a new SocketsHttpHandler.</param>
    public RegistryClient(RegistryClientOptions? options = null, HttpMessageHandler? handler = null, TimeProvider? time = null, ILogger<RegistryClient>? logger = null)
    {
        Options = options ?? new RegistryClientOptions();
        _ownsHttp = handler is null;
        // Redirects are followed (blobs often live behind a CDN); .NET drops Authorization on a redirect.
        handler ??= new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 5, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };
        _http = new HttpClient(handler, disposeHandler: _ownsHttp) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(Options.UserAgent);
        _time = time ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _authenticator = new RegistryAuthenticator(_http, Options, _time, _logger);
    }

    public RegistryClientOptions Options { get; }

    public RegistryEndpoint EndpointFor(string registry) => Options.EndpointFor(registry);

    public Task<RegistryManifest> GetManifestAsync(ImageReference image, RegistryAuth auth, CancellationToken ct = default) =>
        GetManifestAsync(EndpointFor(image.Registry), image.Repository, image.Reference, auth, ct);

    /// <summary>
    /// GETs a manifest by tag or digest with the OCI and Docker v2 Accept list. Its SHA-256 must
    /// equal the requested digest and the registry's <c>Docker-Content-Digest</c>, else
    /// <see cref="RegistryErrorKind.DigestMismatch"/> and nothing is returned.
    /// </summary>
    public Task<RegistryManifest> GetManifestAsync(RegistryEndpoint endpoint, string repository, string reference, RegistryAuth auth, CancellationToken ct = default)
    {
        var requested = CheckReference(repository, reference);
        var what = $"manifest {endpoint.Name}/{repository}{Separator(reference)}{reference}";
        return WithTimeoutAsync(what, ct, async token =>
        {
            var url = endpoint.Url($"v2/{repository}/manifests/{reference}");
            using var response = await SendAsync(endpoint, PullScope(repository), HttpMethod.Get, url, auth, what, token);
            var body = await ReadLimitedAsync(response, Options.MaxManifestBytes, what, token);
            var actual = ContentDigest.FromHash(SHA256.HashData(body));
            if (requested is { } expected && actual != expected)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch, $"{what}: the registry sent content that hashes to {actual}; rejected");
            }
            if (HeaderDigest(response) is { } announced && announced != actual)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch, $"{what}: the registry says Docker-Content-Digest {announced} but the content hashes to {actual}; rejected");
            }
            var contentType = response.Content.Headers.ContentType?.MediaType;
            ManifestDocument document;
            try
            {
                document = ManifestDocument.Parse(body, contentType);
            }
            catch (FormatException e)
            {
                throw new RegistryException(RegistryErrorKind.Unsupported, $"{what}: {e.Message}", e);
            }
            // Serve the type the registry declared when it is a manifest type; the body's otherwise.
            var mediaType = contentType is not null && (MediaTypes.IsIndex(contentType) || MediaTypes.IsImageManifest(contentType)) ? contentType : document.MediaType;
            return new RegistryManifest(actual, mediaType, body);
        });
    }

    /// <summary>HEADs a manifest: digest, type and size as the registry declares them (unverified).</summary>
    public Task<ManifestHead> HeadManifestAsync(RegistryEndpoint endpoint, string repository, string reference, RegistryAuth auth, CancellationToken ct = default)
    {
        var requested = CheckReference(repository, reference);
        var what = $"manifest {endpoint.Name}/{repository}{Separator(reference)}{reference}";
        return WithTimeoutAsync(what, ct, async token =>
        {
            var url = endpoint.Url($"v2/{repository}/manifests/{reference}");
            using var response = await SendAsync(endpoint, PullScope(repository), HttpMethod.Head, url, auth, what, token);
            var announced = HeaderDigest(response);
            if (requested is { } expected && announced is { } a && a != expected)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch, $"{what}: the registry says Docker-Content-Digest {a}; rejected");
            }
            return new ManifestHead(announced ?? requested, response.Content.Headers.ContentType?.MediaType, response.Content.Headers.ContentLength);
        });
    }

    /// <summary>
    /// Resolves <paramref name="image"/> to the images of the selected platforms: tag → manifest;
    /// an index → the manifests of matching platforms (an unmatched requested platform is an
    /// error listing the ones the index has); a single image manifest → matches only the platform
    /// its config declares.
    /// </summary>
    public async Task<ResolvedImage> ResolveAsync(ImageReference image, PlatformSelector platforms, RegistryAuth auth, CancellationToken ct = default)
    {
        var endpoint = EndpointFor(image.Registry);
        var root = await GetManifestAsync(endpoint, image.Repository, image.Reference, auth, ct);
        var document = ManifestDocument.Parse(root.Content.Span, root.MediaType);
        List<PlatformImage> images = [];
        IReadOnlyList<Platform> available;
        if (document.IsIndex)
        {
            var candidates = document.Manifests
                .Where(m => m.Platform is not null && MediaTypes.IsImageManifest(m.MediaType) && !PlatformSelector.IsUnknown(m.Platform))
                .ToArray();
            available = candidates.Select(m => m.Platform!).Distinct().ToArray();
            var missing = platforms.All ? [] : platforms.Platforms.Where(p => !available.Contains(p)).ToArray();
            if (missing.Length > 0 || available.Count == 0)
            {
                throw UnknownPlatform(image, platforms, missing, available);
            }
            foreach (var child in candidates.Where(m => platforms.Matches(m.Platform!)).DistinctBy(m => m.Platform))
            {
                var manifest = await GetManifestAsync(endpoint, image.Repository, child.Digest.ToString(), auth, ct);
                images.Add(ToPlatformImage(image, child.Platform!, manifest));
            }
        }
        else
        {
            var config = document.Config!;
            var configJson = await GetBlobBytesAsync(endpoint, image.Repository, config, auth, ct);
            Platform platform;
            try
            {
                platform = ManifestDocument.ParseConfigPlatform(configJson);
            }
            catch (FormatException e)
            {
                throw new RegistryException(RegistryErrorKind.Unsupported, $"image {image}: {e.Message}", e);
            }
            available = [platform];
            if (!platforms.Matches(platform))
            {
                throw UnknownPlatform(image, platforms, platforms.Platforms, available);
            }
            images.Add(ToPlatformImage(image, platform, root));
        }
        var resolved = new ResolvedImage(image, endpoint, root, images, available);
        RegistryLog.Resolved(_logger, image.ToString(), root.Digest.ToString(), platforms.ToString(), resolved.Blobs.Count);
        return resolved;
    }

    public Uri BlobUrl(RegistryEndpoint endpoint, string repository, ContentDigest digest)
    {
        CheckRepository(repository);
        return endpoint.Url($"v2/{repository}/blobs/{digest}");
    }

    public Task<BlobLocation> GetBlobLocationAsync(ImageReference image, ContentDigest digest, RegistryAuth auth, CancellationToken ct = default) =>
        GetBlobLocationAsync(EndpointFor(image.Registry), image.Repository, digest, auth, ct);

    /// <summary>The blob's URL and the Authorization value to fetch it with (a pull token for Bearer registries).</summary>
    public async Task<BlobLocation> GetBlobLocationAsync(RegistryEndpoint endpoint, string repository, ContentDigest digest, RegistryAuth auth, CancellationToken ct = default) =>
        new(digest, BlobUrl(endpoint, repository, digest), await AuthorizeAsync(endpoint, repository, auth, ct));

    /// <summary>
    /// The Authorization value with which <paramref name="auth"/> may pull from
    /// <paramref name="repository"/>, checked without touching a blob: null for a registry that
    /// admits anonymous pulls; for Basic the credentials are verified on <c>/v2/</c>; for Bearer the
    /// token service checks them. Throws <see cref="RegistryErrorKind.Unauthorized"/> otherwise.
    /// </summary>
    public async Task<string?> AuthorizeAsync(RegistryEndpoint endpoint, string repository, RegistryAuth auth, CancellationToken ct = default)
    {
        CheckRepository(repository);
        if (_authenticator.Known(endpoint) is null)
        {
            await CheckAccessAsync(endpoint, RegistryAuth.Anonymous, ct);
        }
        var challenge = _authenticator.Known(endpoint) ?? AuthChallenge.None;
        var what = $"repository {endpoint.Name}/{repository}";
        switch (challenge.Scheme)
        {
            case AuthScheme.None:
                return null;
            case AuthScheme.Basic:
                if (auth.IsAnonymous)
                {
                    throw NeedsCredentials(endpoint, what);
                }
                return await CheckAccessAsync(endpoint, auth, ct) == RegistryAccess.Granted
                    ? await _authenticator.HeaderAsync(endpoint, PullScope(repository), auth, refresh: false, ct)
                    : throw Refused(endpoint, what);
            default:
                return await WithTimeoutAsync(what, ct, async token => await _authenticator.HeaderAsync(endpoint, PullScope(repository), auth, refresh: false, token));
        }
    }

    /// <summary>
    /// Checks that the registry itself would give this blob of <paramref name="repository"/> to the
    /// holder of <paramref name="authorization"/> (from <see cref="AuthorizeAsync"/>; null: anonymous):
    /// a HEAD on the blob with it. A token service may hand any authenticated user a token without pull
    /// access, and a client may present any Bearer value at all, so only the registry's answer for the
    /// blob shows that the client may have it. Grants are cached for
    /// <see cref="RegistryClientOptions.AccessCacheDuration"/> per blob and Authorization value.
    /// </summary>
    /// <exception cref="RegistryException">Unauthorized, Denied or NotFound as the registry answers; Unavailable when it cannot be asked (the mirror then refuses too).</exception>
    public async Task CheckBlobAccessAsync(RegistryEndpoint endpoint, string repository, ContentDigest digest, string? authorization, CancellationToken ct = default)
    {
        var url = BlobUrl(endpoint, repository, digest);
        var key = $"blob\n{url}\n{(authorization is null ? "-" : Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(authorization))))}";
        var now = _time.GetUtcNow();
        if (_granted.TryGetValue(key, out var until) && until > now)
        {
            return;
        }
        var what = $"blob {digest} of {endpoint.Name}/{repository}";
        await WithTimeoutAsync(what, ct, async token =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Head, url);
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }
            using var response = await SendOnceAsync(request, what, token);
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, endpoint.Name, what, authorization is null ? RegistryAuth.Anonymous : null, token);
            }
            return true;
        });
        ForgetExpiredGrants(now);
        _granted[key] = now + Options.AccessCacheDuration;
    }

    /// <summary>Keeps the grant cache, keyed by what clients send, from growing without bound.</summary>
    private void ForgetExpiredGrants(DateTimeOffset now)
    {
        if (_granted.Count < MaxGrants)
        {
            return;
        }
        foreach (var (key, until) in _granted)
        {
            if (until <= now)
            {
                _granted.TryRemove(key, out _);
            }
        }
        if (_granted.Count >= MaxGrants)
        {
            _granted.Clear(); // all live: start over rather than grow; the next requests ask again
        }
    }

    /// <summary>Whether <paramref name="auth"/> gets into the registry's base endpoint; a grant is cached briefly.</summary>
    public async Task<RegistryAccess> CheckAccessAsync(RegistryEndpoint endpoint, RegistryAuth auth, CancellationToken ct = default)
    {
        var key = $"{endpoint.BaseUri}\n{auth.Fingerprint}";
        if (_granted.TryGetValue(key, out var until) && until > _time.GetUtcNow())
        {
            return RegistryAccess.Granted;
        }
        try
        {
            var sentHeader = await WithTimeoutAsync($"registry {endpoint.Name}", ct, async token =>
            {
                using var response = await SendAsync(endpoint, null, HttpMethod.Get, endpoint.Url("v2/"), auth, $"registry {endpoint.Name}", token);
                return response.RequestMessage?.Headers.Authorization is not null;
            });
            if (!sentHeader && _authenticator.Known(endpoint) is null)
            {
                _authenticator.Learn(endpoint, AuthChallenge.None);
            }
            _granted[key] = _time.GetUtcNow() + Options.AccessCacheDuration;
            return RegistryAccess.Granted;
        }
        catch (RegistryException e) when (e.Kind is RegistryErrorKind.Unauthorized or RegistryErrorKind.Denied)
        {
            return auth.IsAnonymous ? RegistryAccess.NeedsCredentials : RegistryAccess.Refused;
        }
    }

    /// <summary>
    /// Downloads a blob to <paramref name="destinationPath"/>: hashed while written to a temp file
    /// beside it, compared with <paramref name="digest"/>, then renamed into place, so the path
    /// holds the whole verified blob or nothing. Returns its size.
    /// </summary>
    public async Task<long> DownloadBlobAsync(Uri url, string? authorization, ContentDigest digest, string destinationPath, CancellationToken ct = default)
    {
        var what = $"blob {digest} from {url.Authority}";
        var directory = Path.GetDirectoryName(Path.GetFullPath(destinationPath))!;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".{Path.GetFileName(destinationPath)}.{Guid.NewGuid():N}.partial");
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }
            using var response = await SendOnceAsync(request, what, ct);
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorAsync(response, url.Authority, what, authorization is null ? RegistryAuth.Anonymous : null, ct);
            }
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            await using (var body = await response.Content.ReadAsStreamAsync(ct))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await body.ReadAsync(buffer, ct)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                    size += read;
                }
            }
            var actual = ContentDigest.FromHash(hash.GetHashAndReset());
            if (actual != digest)
            {
                throw new RegistryException(RegistryErrorKind.DigestMismatch, $"{what}: the content hashes to {actual}; rejected");
            }
            File.Move(temp, destinationPath, overwrite: true);
            RegistryLog.BlobDownloaded(_logger, digest.ToString(), size, url.Authority);
            return size;
        }
        catch (HttpRequestException e)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable, $"{what}: the download failed: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable, $"{what}: the download failed: {e.Message}", e);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public void Dispose()
    {
        _http.Dispose();
    }

    internal static string PullScope(string repository) => $"repository:{repository}:pull";

    private async Task<byte[]> GetBlobBytesAsync(RegistryEndpoint endpoint, string repository, Descriptor blob, RegistryAuth auth, CancellationToken ct)
    {
        var what = $"blob {endpoint.Name}/{repository}@{blob.Digest}";
        if (blob.Size > Options.MaxManifestBytes)
        {
            throw new RegistryException(RegistryErrorKind.Unsupported, $"{what}: {blob.Size} bytes is too large for an image config");
        }
        return await WithTimeoutAsync(what, ct, async token =>
        {
            using var response = await SendAsync(endpoint, PullScope(repository), HttpMethod.Get, BlobUrl(endpoint, repository, blob.Digest), auth, what, token);
            var body = await ReadLimitedAsync(response, Options.MaxManifestBytes, what, token);
            var actual = ContentDigest.FromHash(SHA256.HashData(body));
            return actual == blob.Digest
                ? body
                : throw new RegistryException(RegistryErrorKind.DigestMismatch, $"{what}: the content hashes to {actual}; rejected");
        });
    }

    private static ContentDigest? CheckReference(string repository, string reference)
    {
        CheckRepository(repository);
        if (reference.Contains(':'))
        {
            return ContentDigest.TryParse(reference, out var digest)
                ? digest
                : throw new ArgumentException($"'{reference}' is not a tag or a sha256 digest", nameof(reference));
        }
        return ImageReference.IsValidTag(reference) ? null : throw new ArgumentException($"'{reference}' is not a valid tag", nameof(reference));
    }

    private static void CheckRepository(string repository)
    {
        if (!ImageReference.IsValidRepository(repository))
        {
            throw new ArgumentException($"'{repository}' is not a valid repository name", nameof(repository));
        }
    }

    private static string Separator(string reference) => reference.Contains(':') ? "@" : ":";

    private static RegistryException UnknownPlatform(ImageReference image, PlatformSelector requested, IEnumerable<Platform> missing, IReadOnlyList<Platform> available)
    {
        var has = available.Count == 0 ? "no usable platforms" : "only " + string.Join(", ", available);
        var wanted = missing.Any() ? string.Join(", ", missing) : requested.ToString();
        return new RegistryException(RegistryErrorKind.UnknownPlatform, $"image {image} has no {wanted} image; it has {has}");
    }

    private static RegistryException NeedsCredentials(RegistryEndpoint endpoint, string what) =>
        new(RegistryErrorKind.Unauthorized, $"{what}: {endpoint.Name} needs credentials");

    private static RegistryException Refused(RegistryEndpoint endpoint, string what) =>
        new(RegistryErrorKind.Unauthorized, $"{what}: {endpoint.Name} refused the credentials; check the user name and password");

    private static PlatformImage ToPlatformImage(ImageReference image, Platform platform, RegistryManifest manifest)
    {
        ManifestDocument document;
        try
        {
            document = ManifestDocument.Parse(manifest.Content.Span, manifest.MediaType);
        }
        catch (FormatException e)
        {
            throw new RegistryException(RegistryErrorKind.Unsupported, $"image {image} ({platform}): {e.Message}", e);
        }
        return document.IsIndex
            ? throw new RegistryException(RegistryErrorKind.Unsupported, $"image {image} ({platform}): a nested index is not supported")
            : new PlatformImage(platform, manifest, document.Config!, document.Layers);
    }
}
