using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// The token service of a Bearer registry, in the test: Distribution verifies tokens but does not
/// issue them, so this issues ES256 JWTs signed by a throw-away key whose self-signed certificate
/// the registry trusts (<c>rootcertbundle</c>; the token carries it in <c>x5c</c>). Users get the
/// actions they ask for; anonymous requests get pull only when <see cref="AllowAnonymousPull"/>.
/// Records every request.
/// </summary>
public sealed class TokenServer : IAsyncDisposable
{
    public const string Service = "dragonfly-test-registry";
    public const string Issuer = "dragonfly-test-issuer";

    private readonly ECDsa _key;
    private readonly X509Certificate2 _certificate;
    private readonly string _directory;
    private readonly IReadOnlyDictionary<string, string> _users;
    private readonly ConcurrentQueue<TokenRequest> _requests = new();
    private TestWebServer? _web;

    private TokenServer(IReadOnlyDictionary<string, string> users, bool allowAnonymousPull, int expiresIn)
    {
        _users = users;
        AllowAnonymousPull = allowAnonymousPull;
        ExpiresIn = expiresIn;
        _directory = Directory.CreateTempSubdirectory("dragonfly-token-").FullName;
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=dragonfly-test-token-signer", _key, HashAlgorithmName.SHA256);
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        CertificatePath = Path.Combine(_directory, "token-signer.pem");
        File.WriteAllText(CertificatePath, _certificate.ExportCertificatePem());
    }

    public bool AllowAnonymousPull { get; }

    /// <summary>The lifetime the tokens announce (<c>expires_in</c>, seconds).</summary>
    public int ExpiresIn { get; }

    public string CertificatePath { get; }

    public string Realm => $"http://127.0.0.1:{_web!.Port}/token";

    public IReadOnlyCollection<TokenRequest> Requests => _requests;

    public static async Task<TokenServer> StartAsync(IReadOnlyDictionary<string, string> users, bool allowAnonymousPull = false, int expiresIn = 300)
    {
        var server = new TokenServer(users, allowAnonymousPull, expiresIn);
        try
        {
            server._web = await TestWebServer.StartAsync(app => app.MapGet("/token", server.Issue));
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_web is not null)
        {
            await _web.DisposeAsync();
        }
        _certificate.Dispose();
        _key.Dispose();
        TempDirectory.Delete(_directory);
    }

    private IResult Issue(HttpContext context)
    {
        var user = BasicUser(context.Request.Headers.Authorization.ToString(), out var password);
        var scopes = context.Request.Query["scope"].Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).ToArray();
        var valid = user is not null && _users.TryGetValue(user, out var expected) && expected == password;
        if ((user is not null && !valid) || (user is null && !AllowAnonymousPull))
        {
            _requests.Enqueue(new TokenRequest(user, string.Join(' ', scopes), Granted: false));
            return Results.Json(new { details = "incorrect username or password" }, statusCode: StatusCodes.Status401Unauthorized);
        }
        _requests.Enqueue(new TokenRequest(user, string.Join(' ', scopes), Granted: true));

        var access = scopes.Select(s => s.Split(':')).Where(p => p.Length == 3).Select(p => new
        {
            type = p[0],
            name = p[1],
            actions = p[2].Split(',').Where(a => valid || a == "pull").ToArray(),
        }).ToArray();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new { typ = "JWT", alg = "ES256", x5c = new[] { Convert.ToBase64String(_certificate.RawData) } };
        var claims = new
        {
            iss = Issuer,
            sub = user ?? "",
            aud = Service,
            exp = now + ExpiresIn,
            nbf = now - 10,
            iat = now,
            jti = Guid.NewGuid().ToString("N"),
            access,
        };
        var signingInput = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var token = signingInput + "." + Base64Url.EncodeToString(signature);
        return Results.Json(new { token, access_token = token, expires_in = ExpiresIn, issued_at = DateTimeOffset.UtcNow.ToString("O") });
    }

    private static string? BasicUser(string header, out string? password)
    {
        password = null;
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var text = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
        var colon = text.IndexOf(':');
        password = text[(colon + 1)..];
        return text[..colon];
    }
}
