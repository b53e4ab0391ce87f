using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Dragonfly.PubSub.Registry.Client;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Registry.Auth;

/// <summary>
/// Remembers how each registry challenges and answers it: Basic with the credentials, or Bearer
/// with a token from the registry's token service (the credentials sent there as Basic), cached per
/// realm, service, scope and credentials until shortly before it expires.
/// </summary>
internal sealed class RegistryAuthenticator(HttpClient http, RegistryClientOptions options, TimeProvider time, ILogger logger)
{
    private const int MaxCachedTokens = 1024;

    private readonly ConcurrentDictionary<Uri, AuthChallenge> _challenges = new();
    private readonly ConcurrentDictionary<string, CachedToken> _tokens = new();

    public AuthChallenge? Known(RegistryEndpoint endpoint) => _challenges.GetValueOrDefault(endpoint.BaseUri);

    public void Learn(RegistryEndpoint endpoint, AuthChallenge challenge)
    {
        if (_challenges.TryGetValue(endpoint.BaseUri, out var old) && old == challenge)
        {
            return;
        }
        _challenges[endpoint.BaseUri] = challenge;
        RegistryLog.LearnedChallenge(logger, endpoint.Name, challenge.Scheme.ToString(), challenge.Realm?.GetLeftPart(UriPartial.Path) ?? "-");
    }

    /// <summary>
    /// The Authorization value for a request to <paramref name="endpoint"/> needing <paramref name="scope"/>
    /// (<c>repository:name:pull</c>; null for the base endpoint), or null when none is known to be needed.
    /// <paramref name="refresh"/> skips the token cache (the cached token was just refused).
    /// </summary>
    public async ValueTask<string?> HeaderAsync(RegistryEndpoint endpoint, string? scope, RegistryAuth auth, bool refresh, CancellationToken ct)
    {
        if (auth.RawHeader is not null)
        {
            return auth.RawHeader;
        }
        var challenge = Known(endpoint);
        return challenge?.Scheme switch
        {
            AuthScheme.Basic => auth.BasicHeaderValue(),
            AuthScheme.Bearer => "Bearer " + await TokenAsync(endpoint, challenge, scope, auth, refresh, ct),
            _ => null,
        };
    }

    private async Task<string> TokenAsync(RegistryEndpoint endpoint, AuthChallenge challenge, string? scope, RegistryAuth auth, bool refresh, CancellationToken ct)
    {
        var key = $"{challenge.Realm}\n{challenge.Service}\n{scope}\n{auth.Fingerprint}";
        var now = time.GetUtcNow();
        if (!refresh && _tokens.TryGetValue(key, out var cached) && cached.UsableUntil > now)
        {
            return cached.Token;
        }

        var query = new List<string>();
        if (!string.IsNullOrEmpty(challenge.Service))
        {
            query.Add("service=" + Uri.EscapeDataString(challenge.Service));
        }
        if (!string.IsNullOrEmpty(scope))
        {
            query.Add("scope=" + Uri.EscapeDataString(scope));
        }
        var realm = challenge.Realm!;
        var url = new UriBuilder(realm) { Query = string.Join('&', new[] { realm.Query.TrimStart('?') }.Where(q => q.Length > 0).Concat(query)) }.Uri;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (auth.BasicHeaderValue() is { } basic)
        {
            request.Headers.TryAddWithoutValidation("Authorization", basic);
        }
        request.Headers.UserAgent.ParseAdd(options.UserAgent);

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (HttpRequestException e)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable, $"the token service of {endpoint.Name} ({realm.GetLeftPart(UriPartial.Path)}) cannot be reached: {e.Message}", e);
        }
        using (response)
        {
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new RegistryException(RegistryErrorKind.Unauthorized, auth.HasCredentials
                    ? $"the token service of {endpoint.Name} refused the credentials ({(int)response.StatusCode}); check the user name and password"
                    : $"{endpoint.Name} needs credentials: its token service refused an anonymous token ({(int)response.StatusCode})");
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new RegistryException(RegistryErrorKind.Unavailable, $"the token service of {endpoint.Name} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            var (token, lifetime) = ParseToken(await response.Content.ReadAsByteArrayAsync(ct), endpoint);
            // Renew a little early so a token never expires between the cache lookup and its use.
            var usable = TimeSpan.FromSeconds(Math.Max(lifetime.TotalSeconds - 10, lifetime.TotalSeconds / 2));
            if (_tokens.Count >= MaxCachedTokens)
            {
                foreach (var stale in _tokens.Where(t => t.Value.UsableUntil <= now).Select(t => t.Key).ToList())
                {
                    _tokens.TryRemove(stale, out _);
                }
            }
            _tokens[key] = new CachedToken(token, now + usable);
            RegistryLog.TokenFetched(logger, endpoint.Name, scope ?? "-", (long)lifetime.TotalSeconds);
            return token;
        }
    }

    private static (string Token, TimeSpan Lifetime) ParseToken(byte[] body, RegistryEndpoint endpoint)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var token = root.TryGetProperty("token", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()
                : root.TryGetProperty("access_token", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()
                : null;
            if (string.IsNullOrEmpty(token))
            {
                throw new RegistryException(RegistryErrorKind.BadResponse, $"the token service of {endpoint.Name} answered without a token");
            }
            // The distribution spec's default lifetime when expires_in is absent is 60 s.
            var seconds = root.TryGetProperty("expires_in", out var e) && e.ValueKind == JsonValueKind.Number && e.GetInt64() > 0 ? e.GetInt64() : 60;
            return (token, TimeSpan.FromSeconds(seconds));
        }
        catch (JsonException)
        {
            throw new RegistryException(RegistryErrorKind.BadResponse, $"the token service of {endpoint.Name} answered something that is not JSON");
        }
    }

    private sealed record CachedToken(string Token, DateTimeOffset UsableUntil);
}
