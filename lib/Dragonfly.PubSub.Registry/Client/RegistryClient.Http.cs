using System.Net;
using System.Text.Json;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Manifests;

namespace Dragonfly.PubSub.Registry.Client;

// The HTTP under every call: the request with its Authorization (answering Basic and Bearer
// challenges), timeouts, size limits, and a registry's error replies turned into RegistryException.
public sealed partial class RegistryClient
{
    /// <summary>
    /// Sends a request with the Authorization known for the registry; on a 401 learns its
    /// challenge and tries once more (a fresh token for Bearer). Returns only successful responses.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(RegistryEndpoint endpoint, string? scope, HttpMethod method, Uri url, RegistryAuth auth, string what, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            var header = await _authenticator.HeaderAsync(endpoint, scope, auth, refresh: attempt > 0, ct);
            var request = new HttpRequestMessage(method, url);
            if (url.AbsolutePath.Contains("/manifests/", StringComparison.Ordinal))
            {
                foreach (var type in MediaTypes.ManifestAccept)
                {
                    request.Headers.Accept.ParseAdd(type);
                }
            }
            if (header is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", header);
            }
            var response = await SendOnceAsync(request, what, ct);
            if (response.IsSuccessStatusCode)
            {
                return response;
            }
            if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && auth.RawHeader is null
                && AuthChallenge.FromHeaders(response.Headers.WwwAuthenticate) is { } challenge)
            {
                var known = _authenticator.Known(endpoint);
                _authenticator.Learn(endpoint, challenge);
                // Retry when there is something new to answer with: a first or changed challenge, or a fresh token.
                var retry = challenge.Scheme == AuthScheme.Bearer || (auth.HasCredentials && (known != challenge || header is null));
                if (retry)
                {
                    response.Dispose();
                    request.Dispose();
                    continue;
                }
            }
            try
            {
                throw await ErrorAsync(response, endpoint.Name, what, auth, ct);
            }
            finally
            {
                response.Dispose();
                request.Dispose();
            }
        }
    }

    private async Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, string what, CancellationToken ct)
    {
        try
        {
            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            RegistryLog.Request(_logger, request.Method.Method, request.RequestUri!.GetLeftPart(UriPartial.Path), (int)response.StatusCode);
            return response;
        }
        catch (HttpRequestException e)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable, $"{what}: {request.RequestUri!.Authority} cannot be reached: {e.Message}", e);
        }
    }

    private async Task<T> WithTimeoutAsync<T>(string what, CancellationToken ct, Func<CancellationToken, Task<T>> action)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.RequestTimeout);
        try
        {
            return await action(timeout.Token);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable, $"{what}: no answer within {Options.RequestTimeout.TotalSeconds:0.#} s", e);
        }
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpResponseMessage response, int limit, string what, CancellationToken ct)
    {
        if (response.Content.Headers.ContentLength > limit)
        {
            throw new RegistryException(RegistryErrorKind.Unsupported, $"{what}: {response.Content.Headers.ContentLength} bytes is more than the {limit} a manifest may have");
        }
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new RegistryException(RegistryErrorKind.Unsupported, $"{what}: more than the {limit} bytes a manifest may have");
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <param name="auth">The credentials that were used, to tell "needs credentials" from "refused"; null: some were sent.</param>
    private static async Task<RegistryException> ErrorAsync(HttpResponseMessage response, string registry, string what, RegistryAuth? auth, CancellationToken ct)
    {
        var detail = await ErrorDetailAsync(response, ct);
        var status = (int)response.StatusCode;
        return response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => new RegistryException(RegistryErrorKind.Unauthorized, auth is { IsAnonymous: true }
                ? $"{what}: {registry} needs credentials ({status}{detail})"
                : $"{what}: {registry} refused the credentials ({status}{detail}); check the user name and password"),
            HttpStatusCode.Forbidden => new RegistryException(RegistryErrorKind.Denied, $"{what}: {registry} denies access ({status}{detail})"),
            HttpStatusCode.NotFound => new RegistryException(RegistryErrorKind.NotFound, $"{what} not found on {registry} ({status}{detail})"),
            HttpStatusCode.TooManyRequests => new RegistryException(RegistryErrorKind.TooManyRequests, $"{what}: {registry} rate-limits this client ({status}{detail}); retry later"),
            >= HttpStatusCode.InternalServerError => new RegistryException(RegistryErrorKind.Unavailable, $"{what}: {registry} failed ({status}{detail})"),
            _ => new RegistryException(RegistryErrorKind.BadResponse, $"{what}: {registry} answered {status} {response.ReasonPhrase}{detail}"),
        };
    }

    /// <summary>The distribution API's error code and message (<c>{"errors":[{"code","message"}]}</c>), if any.</summary>
    private static async Task<string> ErrorDetailAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(ct);
            if (body.Length is 0 or > 64 * 1024)
            {
                return "";
            }
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array
                && errors.GetArrayLength() > 0 && errors[0].ValueKind == JsonValueKind.Object)
            {
                var code = errors[0].TryGetProperty("code", out var c) ? c.GetString() : null;
                var message = errors[0].TryGetProperty("message", out var m) ? m.GetString() : null;
                return $": {code} {message}".TrimEnd();
            }
        }
        catch (Exception e) when (e is JsonException or HttpRequestException or IOException)
        {
            // No usable error body.
        }
        return "";
    }

    private static ContentDigest? HeaderDigest(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Docker-Content-Digest", out var values))
        {
            return null;
        }
        var text = values.FirstOrDefault()?.Trim();
        if (ContentDigest.TryParse(text, out var digest))
        {
            return digest;
        }
        // Another algorithm (sha512) cannot be compared here; a malformed sha256 one is a lie.
        return text is not null && text.StartsWith(ContentDigest.Prefix, StringComparison.Ordinal)
            ? throw new RegistryException(RegistryErrorKind.BadResponse, $"the registry sent a malformed Docker-Content-Digest '{text}'")
            : null;
    }
}
