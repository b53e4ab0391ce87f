using System.Text.Json;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.References;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Net.Http.Headers;

namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>
/// The pull side of the OCI distribution API in front of an upstream registry:
/// <c>GET /v2/</c>, <c>GET|HEAD /v2/&lt;name&gt;/manifests/&lt;tag|digest&gt;</c> (passed through,
/// verified, cached briefly by tag and for good by digest) and
/// <c>GET|HEAD /v2/&lt;name&gt;/blobs/&lt;digest&gt;</c> (bytes from an <see cref="IBlobSource"/>,
/// Range supported). The upstream is <c>?ns=&lt;registry&gt;</c> (containerd; only a registry of
/// <see cref="RegistryMirrorOptions.AllowedRegistries"/>) or <see cref="RegistryMirrorOptions.Upstream"/>. The client's Authorization is used upstream (Basic
/// credentials also answer a Bearer challenge); without credentials where the upstream needs them
/// the mirror answers 401 with a Basic challenge so that docker, containerd and skopeo send them.
/// Map it with <see cref="RegistryMirrorEndpoints.MapRegistryMirror"/>.
/// </summary>
public sealed class RegistryMirror
{
    private const string ApiVersionHeader = "Docker-Distribution-API-Version";
    private const string ApiVersion = "registry/2.0";
    private const string DigestHeader = "Docker-Content-Digest";

    private readonly RegistryMirrorOptions _options;
    private readonly RegistryClient _client;
    private readonly IBlobSource _blobs;
    private readonly ILogger _logger;
    private readonly RegistryEndpoint? _upstream;
    private readonly ManifestCache _manifests;

    public RegistryMirror(RegistryMirrorOptions options, RegistryClient client, IBlobSource blobs, TimeProvider? time = null, ILogger<RegistryMirror>? logger = null)
    {
        _options = options;
        _client = client;
        _blobs = blobs;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _upstream = options.Upstream is null ? null : RegistryEndpoint.FromUrl(options.Upstream);
        _manifests = new ManifestCache(time ?? TimeProvider.System, options.TagCacheDuration, options.MaxCachedManifests);
    }

    /// <summary>The registry served without <c>?ns=</c>, if configured.</summary>
    public RegistryEndpoint? Upstream => _upstream;

    /// <summary>Handles one request under <c>/v2</c>.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        response.Headers[ApiVersionHeader] = ApiVersion;
        var path = request.Path.Value ?? "";
        var parsed = MirrorPath.Parse(path);
        RegistryEndpoint? endpoint = null;
        try
        {
            endpoint = UpstreamFor(request);
            var auth = RegistryAuth.FromAuthorizationHeader(request.Headers.Authorization.ToString());
            if (parsed.Kind == MirrorPathKind.Base)
            {
                await BaseAsync(context, endpoint, auth);
            }
            else if (endpoint is null)
            {
                await ErrorAsync(context, StatusCodes.Status404NotFound, "NAME_UNKNOWN",
                    "this mirror has no default upstream registry: pass ?ns=<registry> or start dfagent with --registry-mirror URL");
            }
            else if (parsed.Kind == MirrorPathKind.Invalid)
            {
                throw new MirrorRequestException(parsed.ErrorCode!, parsed.Error!);
            }
            else if (parsed.Kind == MirrorPathKind.Manifest)
            {
                await ManifestAsync(context, endpoint, Repository(endpoint, parsed.Name), parsed.Reference, parsed.Digest, auth);
            }
            else if (parsed.Kind == MirrorPathKind.Blob)
            {
                await BlobAsync(context, endpoint, Repository(endpoint, parsed.Name), parsed.Digest!.Value, auth);
            }
            else
            {
                await ErrorAsync(context, StatusCodes.Status404NotFound, "UNSUPPORTED", parsed.Error!);
            }
            RegistryLog.MirrorServed(_logger, request.Method, path, endpoint?.Name ?? "-", response.StatusCode);
        }
        catch (MirrorRequestException e)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, e.Code, e.Message);
            RegistryLog.MirrorRefused(_logger, request.Method, path, endpoint?.Name ?? "-", StatusCodes.Status400BadRequest, e.Message);
        }
        catch (RegistryException e)
        {
            var (status, code) = Map(e.Kind, parsed.Kind == MirrorPathKind.Blob);
            await ErrorAsync(context, status, code, e.Message);
            if (status < StatusCodes.Status500InternalServerError)
            {
                RegistryLog.MirrorRefused(_logger, request.Method, path, endpoint?.Name ?? "-", status, e.Message);
            }
            else
            {
                RegistryLog.MirrorFailed(_logger, request.Method, path, endpoint?.Name ?? "-", status, e.Message);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception e) when (!response.HasStarted)
        {
            RegistryLog.MirrorCrashed(_logger, e, request.Method, path);
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "UNKNOWN", "the mirror failed unexpectedly; see the agent's log");
        }
    }

    private async Task BaseAsync(HttpContext context, RegistryEndpoint? endpoint, RegistryAuth auth)
    {
        if (endpoint is not null)
        {
            var access = await _client.CheckAccessAsync(endpoint, auth, context.RequestAborted);
            if (access != RegistryAccess.Granted)
            {
                throw new RegistryException(RegistryErrorKind.Unauthorized, access == RegistryAccess.NeedsCredentials
                    ? $"{endpoint.Name} needs credentials; log in to this mirror with them"
                    : $"{endpoint.Name} refused the credentials; check the user name and password");
            }
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync("{}", context.RequestAborted);
    }

    private async Task ManifestAsync(HttpContext context, RegistryEndpoint endpoint, string repository, string reference, ContentDigest? digest, RegistryAuth auth)
    {
        var scope = $"{endpoint.BaseUri}|{repository}|{auth.Fingerprint}";
        var manifest = digest is { } d ? _manifests.Digest(scope, d) : _manifests.Tag(scope, reference);
        if (manifest is null)
        {
            manifest = await _client.GetManifestAsync(endpoint, repository, reference, auth, context.RequestAborted);
            _manifests.Add(scope, digest is null ? reference : null, manifest);
        }

        var response = context.Response;
        response.ContentType = manifest.MediaType;
        response.ContentLength = manifest.Size;
        response.Headers[DigestHeader] = manifest.Digest.ToString();
        response.Headers.ETag = $"\"{manifest.Digest}\"";
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(manifest.Content, context.RequestAborted);
        }
    }

    private async Task BlobAsync(HttpContext context, RegistryEndpoint endpoint, string repository, ContentDigest digest, RegistryAuth auth)
    {
        // Check the client may pull this blob here before serving what the swarm or this agent may
        // already hold (for another client, another repository): the registry must say yes to it.
        var authorization = await _client.AuthorizeAsync(endpoint, repository, auth, context.RequestAborted);
        await _client.CheckBlobAccessAsync(endpoint, repository, digest, authorization, context.RequestAborted);
        var blob = new BlobRequest(endpoint.Name, repository, digest, _client.BlobUrl(endpoint, repository, digest), authorization);
        var path = await _blobs.GetBlobPathAsync(blob, context.RequestAborted);

        context.Response.Headers[DigestHeader] = digest.ToString();
        var result = TypedResults.PhysicalFile(path, MediaTypes.Blob, fileDownloadName: null, lastModified: null,
            entityTag: new EntityTagHeaderValue($"\"{digest}\""), enableRangeProcessing: true);
        await result.ExecuteAsync(context);
    }

    private RegistryEndpoint? UpstreamFor(HttpRequest request)
    {
        var ns = request.Query["ns"].ToString();
        if (ns.Length == 0)
        {
            return _upstream;
        }
        if (!ImageReference.IsValidRegistry(ns))
        {
            throw new MirrorRequestException("NAME_INVALID", $"ns '{ns}' is not a registry host[:port]");
        }
        if (_upstream is not null && _upstream.Name.Equals(ns, StringComparison.OrdinalIgnoreCase))
        {
            return _upstream;
        }
        var allowed = _options.AllowedRegistries;
        if (!allowed.Contains(RegistryMirrorOptions.AnyRegistry) && !allowed.Contains(ns, StringComparer.OrdinalIgnoreCase))
        {
            // Not an open fetch proxy: a ?ns= names only a registry the operator allowed.
            throw new RegistryException(RegistryErrorKind.Denied, allowed.Count == 0
                ? $"this mirror does not serve {ns}; allow it with dfagent --allow-registry {ns}"
                    + (_upstream is null ? "" : $" (it serves {_upstream.Name})")
                : $"this mirror does not serve {ns}; allowed: {string.Join(", ", allowed)}");
        }
        return _client.EndpointFor(ns);
    }

    /// <summary>The repository in the upstream: Docker Hub's official images live under library/ even when a client leaves it out.</summary>
    private static string Repository(RegistryEndpoint endpoint, string name) =>
        endpoint.Name == ImageReference.DockerHub && !name.Contains('/') ? "library/" + name : name;

    private static (int Status, string Code) Map(RegistryErrorKind kind, bool blob) => kind switch
    {
        RegistryErrorKind.NotFound => (StatusCodes.Status404NotFound, blob ? "BLOB_UNKNOWN" : "MANIFEST_UNKNOWN"),
        RegistryErrorKind.Unauthorized => (StatusCodes.Status401Unauthorized, "UNAUTHORIZED"),
        RegistryErrorKind.Denied => (StatusCodes.Status403Forbidden, "DENIED"),
        RegistryErrorKind.TooManyRequests => (StatusCodes.Status429TooManyRequests, "TOOMANYREQUESTS"),
        // 400, not 502: docker, containerd and skopeo show the error message only for 4xx answers, and
        // "the registry sent content that does not match its digest" is what the user must read.
        RegistryErrorKind.DigestMismatch => (StatusCodes.Status400BadRequest, "DIGEST_INVALID"),
        RegistryErrorKind.Unsupported => (StatusCodes.Status502BadGateway, "UNSUPPORTED"),
        _ => (StatusCodes.Status502BadGateway, "UNAVAILABLE"),
    };

    private async Task ErrorAsync(HttpContext context, int status, string code, string message)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }
        response.Clear();
        response.StatusCode = status;
        response.Headers[ApiVersionHeader] = ApiVersion;
        if (status == StatusCodes.Status401Unauthorized)
        {
            response.Headers.WWWAuthenticate = $"Basic realm=\"{_options.Realm}\"";
        }
        response.ContentType = "application/json";
        var body = JsonSerializer.SerializeToUtf8Bytes(new RegistryErrorBody([new RegistryError(code, message)]), MirrorJsonContext.Default.RegistryErrorBody);
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted);
        }
    }

    /// <summary>A malformed request (400) with its distribution API error code.</summary>
    private sealed class MirrorRequestException(string code, string message) : Exception(message)
    {
        public string Code { get; } = code;
    }
}
