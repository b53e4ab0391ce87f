using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// The client side of enrolment (<c>POST /api/v1/enroll</c>) and renewal (<c>POST /api/v1/renew</c>)
/// on the broker's HTTPS port. The client makes its own ECDSA P-256 key, which never leaves it.
/// Enrolment trusts the broker only through the token's CA pin: the CA the broker serves
/// (<c>GET /api/v1/ca</c>, fetched without trusting anything and without sending a secret) must hash
/// to the pin, the broker's certificate must chain to it before the token is sent, and the CA the
/// enrolment returns must be that one too. Renewal authenticates with the current certificate and
/// trusts only the fleet CA it already has.
/// </summary>
public static class EnrolmentClient
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <exception cref="EnrolmentException">The broker cannot be reached, is not the pinned fleet, or refuses the token.</exception>
    public static async Task<EnrolledCertificate> EnrollAsync(string host, int port, JoinToken token, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(token);
        using var ca = await FetchPinnedCaAsync(host, port, token, ct).ConfigureAwait(false);
        string? pinFailure = null;
        using var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = SslProtocols.Tls13 | SslProtocols.Tls12,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                {
                    pinFailure = CheckPinned(certificate, chain, errors, token, ca);
                    return pinFailure is null;
                },
            },
        };
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var body = Json(w =>
        {
            w.WriteString("token", token.ToString());
            w.WriteString("csr", Csr(key));
        });
        var result = await PostAsync(handler, host, port, "api/v1/enroll", body, () => pinFailure, ct).ConfigureAwait(false);
        using var returnedCa = X509Certificate2.CreateFromPem(result.CaCertificatePem);
        if (!token.PinMatches(returnedCa))
        {
            throw new EnrolmentException($"the broker at {host}:{port} returned a CA that is not the one the join token pins; is the token from this broker?", refused: true);
        }
        return result with { KeyPem = key.ExportPkcs8PrivateKeyPem() };
    }

    /// <summary>A new certificate for the same peer id, authenticated with <paramref name="current"/>.</summary>
    /// <exception cref="EnrolmentException">The broker cannot be reached or refuses (revoked, expired).</exception>
    public static async Task<EnrolledCertificate> RenewAsync(string host, int port, TlsIdentity current, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(current);
        using var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            SslOptions = current.ClientOptions(host),
        };
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var body = Json(w => w.WriteString("csr", Csr(key)));
        var result = await PostAsync(handler, host, port, "api/v1/renew", body, () => null, ct).ConfigureAwait(false);
        return result with { KeyPem = key.ExportPkcs8PrivateKeyPem() };
    }

    /// <summary>
    /// <c>GET /api/v1/ca</c>: the broker's CA, accepted only when it hashes to the token's pin. The
    /// server is not trusted for this request (nothing secret is sent); the pin is what counts.
    /// </summary>
    private static async Task<X509Certificate2> FetchPinnedCaAsync(string host, int port, JoinToken token, CancellationToken ct)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            },
        };
        using var http = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout };
        var authority = Authority(host, port);
        string pem;
        try
        {
            using var response = await http.GetAsync(new Uri($"https://{authority}/api/v1/ca"), ct).ConfigureAwait(false);
            pem = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new EnrolmentException($"the broker at {authority} did not serve its CA ({(int)response.StatusCode}: {ErrorOf(pem)}); is it a dfbroker with TLS on?");
            }
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException || e.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            throw new EnrolmentException($"the broker at {authority} does not speak TLS ({Inner(e)}); start both sides with --insecure or neither", inner: e);
        }
        catch (HttpRequestException e)
        {
            throw new EnrolmentException($"cannot reach the broker's HTTPS API at {authority} ({Inner(e)}); check --broker-http", inner: e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new EnrolmentException($"the broker's HTTPS API at {authority} did not answer within {Timeout.TotalSeconds:0} s", inner: e);
        }
        X509Certificate2 ca;
        try
        {
            ca = X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new EnrolmentException($"the broker at {authority} served no PEM CA certificate at /api/v1/ca", inner: e);
        }
        if (!token.PinMatches(ca))
        {
            ca.Dispose();
            throw new EnrolmentException(
                $"refusing the broker at {authority}: its CA is not the one the join token pins (wrong broker, or a token of another fleet)", refused: true);
        }
        return ca;
    }

    /// <summary>Null when the broker's certificate chains to the pinned CA; otherwise why not (one line).</summary>
    private static string? CheckPinned(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, JoinToken token, X509Certificate2 pinnedCa)
    {
        if (certificate is not X509Certificate2 leaf)
        {
            return "the broker sent no certificate";
        }
        // A .NET server never sends its root, so the pinned CA is the one fetched; one presented also counts.
        var presented = chain is null ? [] : chain.ChainPolicy.ExtraStore.Concat(chain.ChainElements.Select(e => e.Certificate));
        var ca = presented.FirstOrDefault(token.PinMatches) ?? pinnedCa;
        using var verify = new X509Chain();
        verify.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        verify.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        verify.ChainPolicy.CustomTrustStore.Add(ca);
        if (!verify.Build(leaf))
        {
            return "the broker's certificate is not from the CA the join token pins (wrong broker, or a token of another fleet)";
        }
        return (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0
            ? "the broker's certificate does not name the address used to reach it; use a name or address it lists (dfbroker --tls-san)"
            : null;
    }

    private static async Task<EnrolledCertificate> PostAsync(
        SocketsHttpHandler handler, string host, int port, string path, byte[] body, Func<string?> tlsFailure, CancellationToken ct)
    {
        using var http = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout };
        var authority = Authority(host, port);
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsync(new Uri($"https://{authority}/{path}"), content, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (tlsFailure() is { } failure)
        {
            throw new EnrolmentException($"refusing the broker at {authority}: {failure}", refused: true, e);
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException || e.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            throw new EnrolmentException($"the broker at {authority} does not speak TLS or refused this client ({Inner(e)}); start both sides with --insecure or neither", inner: e);
        }
        catch (HttpRequestException e)
        {
            throw new EnrolmentException($"cannot reach the broker's HTTPS API at {authority} ({Inner(e)}); check --broker-http", inner: e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new EnrolmentException($"the broker's HTTPS API at {authority} did not answer within {Timeout.TotalSeconds:0} s", inner: e);
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var refused = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden;
                throw new EnrolmentException($"the broker refused {(path.EndsWith("enroll", StringComparison.Ordinal) ? "the enrolment" : "the renewal")} ({(int)response.StatusCode}): {ErrorOf(text)}", refused);
            }
            return Parse(text, authority);
        }
    }

    private static EnrolledCertificate Parse(string text, string authority)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            string Text(string name) => root.GetProperty(name).GetString() ?? throw new KeyNotFoundException(name);
            var topics = root.TryGetProperty("topics", out var t) && t.ValueKind == JsonValueKind.Array
                ? t.EnumerateArray().Select(x => x.GetString() ?? "").ToList()
                : [];
            return new EnrolledCertificate(Text("peerId"), Text("role"), topics, Text("certificate"), "", Text("caCertificate"),
                DateTimeOffset.Parse(Text("notAfter"), System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or InvalidOperationException)
        {
            throw new EnrolmentException($"the broker at {authority} sent an answer this agent does not understand ({e.Message})", inner: e);
        }
    }

    private static string ErrorOf(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error))
            {
                return error.GetString() ?? text;
            }
        }
        catch (JsonException)
        {
        }
        var line = text.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "no reason given" : line;
    }

    private static string Authority(string host, int port) =>
        host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]:{port}" : $"{host}:{port}";

    private static string Csr(ECDsa key) =>
        new CertificateRequest("CN=dragonfly-enrolment", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static string Inner(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }
        return e.Message.TrimEnd('.');
    }
}
