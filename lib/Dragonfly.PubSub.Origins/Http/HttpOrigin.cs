using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Dragonfly.PubSub.Origins.Streams;

namespace Dragonfly.PubSub.Origins.Http;

/// <summary>
/// <c>http</c> and <c>https</c> origins over one shared <see cref="SocketsHttpHandler"/>: byte
/// ranges, redirects, pass-through headers, user info as Basic authentication, and origins that
/// ignore <c>Range</c> (200 instead of 206), whose bytes are skipped up to the offset.
/// </summary>
public sealed class HttpOrigin : IOrigin, IDisposable
{
    private readonly HttpClient _client;
    private readonly HttpOriginOptions _options;

    public HttpOrigin(HttpOriginOptions? options = null)
    {
        _options = options ?? new HttpOriginOptions();
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = _options.MaxRedirects > 0,
            MaxAutomaticRedirections = Math.Max(1, _options.MaxRedirects),
            AutomaticDecompression = DecompressionMethods.None, // ranges address the bytes as stored
            UseCookies = false,
            ConnectTimeout = _options.ConnectTimeout,
            PooledConnectionLifetime = _options.PooledConnectionLifetime,
        };
        if (_options.Egress.IsRestricted)
        {
            // Every connection, the first and each redirect's, resolves and checks its address here.
            var egress = _options.Egress;
            handler.ConnectCallback = async (context, ct) =>
            {
                var url = context.InitialRequestMessage.RequestUri;
                var socket = await egress.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, url is null ? context.DnsEndPoint.Host : OriginUrl.Redact(url), ct).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            };
        }
        if (_options.TrustedCaCertificates is { Count: > 0 } trusted)
        {
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => IsTrusted(trusted, certificate, chain, errors),
            };
        }
        _client = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public IReadOnlyCollection<string> Schemes { get; } = ["http", "https"];

    public async Task<OriginObject> StatAsync(Uri url, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(options);
        using (var head = await SendAsync(HttpMethod.Head, url, range: null, options, cancellationToken).ConfigureAwait(false))
        {
            if (head.IsSuccessStatusCode)
            {
                var size = head.Content.Headers.ContentLength;
                if (size is not null && head.Headers.AcceptRanges.Contains("bytes", StringComparer.OrdinalIgnoreCase))
                {
                    return Describe(url, head, size, supportsRanges: true);
                }
                // No Accept-Ranges: a one-byte probe tells whether ranges work after all.
            }
            else if ((int)head.StatusCode is not (403 or 405 or 501 or 400))
            {
                // 403/405/501/400 may only mean "no HEAD here" (a URL signed for GET): probe with GET.
                throw StatusError(url, head, offset: 0);
            }
        }

        using var probe = await SendAsync(HttpMethod.Get, url, new RangeHeaderValue(0, 0), options, cancellationToken).ConfigureAwait(false);
        return probe.StatusCode switch
        {
            HttpStatusCode.PartialContent => Describe(url, probe, probe.Content.Headers.ContentRange?.Length, supportsRanges: true),
            HttpStatusCode.OK => Describe(url, probe, probe.Content.Headers.ContentLength, supportsRanges: false),
            // An empty object has no byte 0: "bytes */0".
            HttpStatusCode.RequestedRangeNotSatisfiable => Describe(url, probe, probe.Content.Headers.ContentRange?.Length, supportsRanges: true),
            _ => throw StatusError(url, probe, offset: 0),
        };
    }

    public async Task<Stream> OpenRangeAsync(Uri url, long offset, long? length, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is { } l)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(l);
            if (l == 0)
            {
                return Stream.Null;
            }
        }
        var range = offset == 0 && length is null ? null : new RangeHeaderValue(offset, offset + length - 1);
        var response = await SendAsync(HttpMethod.Get, url, range, options, cancellationToken).ConfigureAwait(false);
        try
        {
            switch (response.StatusCode)
            {
                case HttpStatusCode.PartialContent:
                    if (response.Content.Headers.ContentRange is not { From: { } from } || from != offset)
                    {
                        throw new OriginException(OriginErrorKind.Protocol,
                            $"origin answered a range request with the wrong range ({response.Content.Headers.ContentRange}): {OriginUrl.Redact(url)}",
                            OriginUrl.Redact(url), 206);
                    }
                    return new RangeWindowStream(await ReadBodyAsync(response, cancellationToken).ConfigureAwait(false), 0, length, _ => BeyondEnd(url, offset), response);
                case HttpStatusCode.OK:
                    // The origin ignored Range and sends the whole object: skip to the offset.
                    return new RangeWindowStream(await ReadBodyAsync(response, cancellationToken).ConfigureAwait(false), offset, length, _ => BeyondEnd(url, offset), response);
                default:
                    throw StatusError(url, response, offset);
            }
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose() => _client.Dispose();

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, RangeHeaderValue? range, OriginRequestOptions options, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(method, WithoutUserInfo(url));
        request.Headers.UserAgent.ParseAdd(_options.UserAgent);
        if (url.UserInfo.Length > 0)
        {
            var credentials = Uri.UnescapeDataString(url.UserInfo);
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        }
        foreach (var (name, value) in options.Headers)
        {
            request.Headers.Remove(name); // a header given by the user replaces ours (User-Agent, Authorization)
            request.Headers.TryAddWithoutValidation(name, value); // content headers make no sense on GET/HEAD: ignored
        }
        request.Headers.Range = range; // ours, never the user's: the caller asked for these bytes

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ResponseTimeout);
        try
        {
            return await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OriginException(OriginErrorKind.Timeout,
                $"origin did not answer within {options.ResponseTimeout.TotalSeconds:0.#} s: {OriginUrl.Redact(url)}", OriginUrl.Redact(url));
        }
        catch (HttpRequestException e)
        {
            throw ConnectionError(url, e);
        }
    }

    private static async Task<Stream> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken) =>
        await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);

    private static OriginObject Describe(Uri url, HttpResponseMessage response, long? size, bool supportsRanges) => new()
    {
        Url = url,
        Size = size,
        SupportsRanges = supportsRanges,
        ETag = response.Headers.ETag?.ToString(),
        LastModified = response.Content.Headers.LastModified,
        ContentType = response.Content.Headers.ContentType?.MediaType,
    };

    private static OriginException BeyondEnd(Uri url, long offset) =>
        new(OriginErrorKind.RangeNotSatisfiable, $"byte {offset} is beyond the end of the object at origin: {OriginUrl.Redact(url)}", OriginUrl.Redact(url), 416);

    private static OriginException StatusError(Uri url, HttpResponseMessage response, long offset)
    {
        var code = (int)response.StatusCode;
        var redacted = OriginUrl.Redact(url);
        var status = $"HTTP {code}{(string.IsNullOrEmpty(response.ReasonPhrase) ? "" : " " + response.ReasonPhrase)}";
        return code switch
        {
            404 or 410 => OriginException.NotFound(url, code),
            401 or 403 => new(OriginErrorKind.AccessDenied, $"access denied by origin ({status}): {redacted}; check the credentials or --header values", redacted, code),
            416 => new(OriginErrorKind.RangeNotSatisfiable,
                $"byte {offset} is beyond the end of the object ({response.Content.Headers.ContentRange?.Length?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"} bytes) at origin: {redacted}", redacted, code),
            408 or 429 or >= 500 and not 501 => new(OriginErrorKind.Unavailable, $"origin unavailable ({status}): {redacted}", redacted, code),
            >= 300 and < 400 => new(OriginErrorKind.Rejected, $"origin redirected too often or to a location that is not followed ({status}): {redacted}", redacted, code),
            _ => new(OriginErrorKind.Rejected, $"origin refused the request ({status}): {redacted}", redacted, code),
        };
    }

    private static OriginException ConnectionError(Uri url, HttpRequestException e)
    {
        var redacted = OriginUrl.Redact(url);
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is OriginException { Kind: OriginErrorKind.EgressRefused } refused)
            {
                return new(refused.Kind, refused.Message, refused.Url, inner: e);
            }
            if (inner is AuthenticationException)
            {
                return new(OriginErrorKind.Tls,
                    $"TLS handshake with origin failed (certificate not trusted or not for this host): {redacted}", redacted, inner: e);
            }
        }
        return e.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => new(OriginErrorKind.InvalidUrl, $"cannot resolve the host of {redacted}", redacted, inner: e),
            HttpRequestError.SecureConnectionError => new(OriginErrorKind.Tls, $"TLS handshake with origin failed: {redacted}", redacted, inner: e),
            _ => new(OriginErrorKind.Unavailable, $"cannot reach origin ({Describe(e)}): {redacted}", redacted, inner: e),
        };
    }

    private static string Describe(HttpRequestException e) => e.HttpRequestError switch
    {
        HttpRequestError.ConnectionError => "connection failed",
        HttpRequestError.ResponseEnded => "connection closed before the answer",
        HttpRequestError.InvalidResponse => "invalid response",
        _ => e.HttpRequestError.ToString(),
    };

    private static Uri WithoutUserInfo(Uri url) =>
        url.UserInfo.Length == 0 ? url : new UriBuilder(url) { UserName = "", Password = "" }.Uri;

    private static bool IsTrusted(X509Certificate2Collection trusted, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        // Only an unknown root is forgiven, and only for our CAs; a name mismatch never is.
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is not X509Certificate2 leaf)
        {
            return false;
        }
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.CustomTrustStore.AddRange(trusted);
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }
        return custom.Build(leaf);
    }
}
