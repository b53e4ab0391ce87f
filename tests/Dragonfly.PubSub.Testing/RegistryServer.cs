using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real registry: Debian's docker-registry (CNCF Distribution 2.8) serving from a temp dir on
/// 127.0.0.1, optionally with htpasswd basic auth (bcrypt, written by <c>htpasswd -Bbn</c>) or
/// Bearer token auth against a <see cref="TokenServer"/>. Its access log is captured so tests can
/// count what really reached the registry (e.g. blob GETs per digest).
/// </summary>
public sealed partial class RegistryServer : IDisposable
{
    private readonly string _root;
    private ServerProcess? _process;

    private RegistryServer(string root)
    {
        _root = root;
    }

    public int Port { get; private set; }

    /// <summary>The registry as references name it: <c>127.0.0.1:port</c>.</summary>
    public string Name => $"127.0.0.1:{Port}";

    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    /// <summary>Starts an anonymous registry, or one with the given basic-auth users, or one behind a token service.</summary>
    public static async Task<RegistryServer> StartAsync(IReadOnlyDictionary<string, string>? basicUsers = null, TokenServer? tokens = null)
    {
        var server = new RegistryServer(Directory.CreateTempSubdirectory("dragonfly-registry-").FullName);
        try
        {
            var auth = "";
            if (basicUsers is not null)
            {
                var htpasswd = Path.Combine(server._root, "htpasswd");
                foreach (var (user, password) in basicUsers)
                {
                    var line = await ProcessRunner.RunAsync(TestPaths.Htpasswd, ["-Bbn", user, password]);
                    if (line.ExitCode != 0)
                    {
                        throw new InvalidOperationException($"htpasswd failed: {line.Output}");
                    }
                    await File.AppendAllTextAsync(htpasswd, line.Stdout.Trim() + "\n");
                }
                auth = $"""
                    auth:
                      htpasswd:
                        realm: dragonfly-test
                        path: {htpasswd}
                    """;
            }
            else if (tokens is not null)
            {
                auth = $"""
                    auth:
                      token:
                        realm: {tokens.Realm}
                        service: {TokenServer.Service}
                        issuer: {TokenServer.Issuer}
                        rootcertbundle: {tokens.CertificatePath}
                    """;
            }
            for (var attempt = 1; ; attempt++)
            {
                server.Port = FreePort.Next();
                try
                {
                    await server.StartProcessAsync(auth);
                    return server;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    // Another process took the port between probing and binding: pick a new one.
                }
            }
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Every request the registry logged so far.</summary>
    public IReadOnlyList<RegistryRequest> Requests()
    {
        var output = _process?.Output ?? "";
        return AccessLine().Matches(output).Select(m => new RegistryRequest(
            m.Groups["method"].Value,
            m.Groups["uri"].Value.Split('?')[0],
            int.Parse(m.Groups["status"].Value, CultureInfo.InvariantCulture),
            m.Groups["bytes"].Value == "-" ? 0 : long.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture))).ToList();
    }

    /// <summary>The successful blob GETs so far (any repository, any digest): what the registry served as content.</summary>
    public IReadOnlyList<RegistryRequest> BlobDownloads() =>
        Requests().Where(r => r.Method == "GET" && r.Status is >= 200 and < 300 && r.BlobDigest is not null).ToList();

    /// <summary>Successful blob GETs for <paramref name="digest"/> (any repository).</summary>
    public int BlobGets(ContentDigest digest) =>
        Requests().Count(r => r.Method == "GET" && r.Status is >= 200 and < 400 && r.Path.EndsWith("/blobs/" + digest, StringComparison.Ordinal));

    /// <summary>
    /// <see cref="BlobGets"/> once the log shows at least <paramref name="atLeast"/> of them (the
    /// registry logs a request just after answering it).
    /// </summary>
    public async Task<int> BlobGetsAsync(ContentDigest digest, int atLeast)
    {
        var deadline = DateTime.UtcNow + Timeouts.Test;
        while (BlobGets(digest) < atLeast && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10); // polls a log; the interval does not matter
        }
        return BlobGets(digest);
    }

    /// <summary>Every blob GET that reached the registry.</summary>
    public int AllBlobGets() => Requests().Count(r => r.Method == "GET" && r.Path.Contains("/blobs/", StringComparison.Ordinal));

    /// <summary>GETs of manifests in <paramref name="repository"/> by <paramref name="reference"/>.</summary>
    public int ManifestGets(string repository, string reference) =>
        Requests().Count(r => r.Method == "GET" && r.Path == $"/v2/{repository}/manifests/{reference}");

    /// <summary>
    /// Waits until the access log holds at least <paramref name="atLeast"/> entries matching
    /// <paramref name="match"/> (the registry logs a request after answering it), then returns them.
    /// </summary>
    public async Task<IReadOnlyList<RegistryRequest>> WaitForRequestsAsync(Func<RegistryRequest, bool> match, int atLeast)
    {
        var deadline = DateTime.UtcNow + Timeouts.Test;
        while (Requests().Count(match) < atLeast && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10); // polls a log file; the interval does not matter
        }
        return Requests().Where(match).ToList();
    }

    /// <summary>
    /// Uploads a blob to an anonymous registry through the distribution API (monolithic: POST, then
    /// PUT with the digest), for tests that hand-craft images, e.g. a layer shared by two platforms.
    /// </summary>
    public async Task<ContentDigest> PushBlobAsync(string repository, byte[] content)
    {
        using var http = new HttpClient { BaseAddress = BaseUri, Timeout = Timeouts.Test };
        var digest = ContentDigest.FromHash(SHA256.HashData(content));
        using var start = await http.PostAsync($"v2/{repository}/blobs/uploads/", null);
        start.EnsureSuccessStatusCode();
        var location = start.Headers.Location!.ToString();
        var url = location + (location.Contains('?') ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest.ToString());
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await http.PutAsync(url, body);
        put.EnsureSuccessStatusCode();
        return digest;
    }

    /// <summary>Uploads a manifest or index under a tag or its digest; returns its digest.</summary>
    public async Task<ContentDigest> PushManifestAsync(string repository, string reference, string mediaType, byte[] content)
    {
        using var http = new HttpClient { BaseAddress = BaseUri, Timeout = Timeouts.Test };
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var put = await http.PutAsync($"v2/{repository}/manifests/{reference}", body);
        if (!put.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT manifest {repository}:{reference}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }
        return ContentDigest.FromHash(SHA256.HashData(content));
    }

    public void Dispose()
    {
        try
        {
            _process?.Dispose();
        }
        finally
        {
            TempDirectory.Delete(_root);
        }
    }

    private async Task StartProcessAsync(string auth)
    {
        var config = Path.Combine(_root, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: {Path.Combine(_root, "data")}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{Port}
              secret: dragonfly-test-secret
            {auth}
            """);
        _process?.Dispose();
        _process = ServerProcess.Start("docker-registry", TestPaths.DockerRegistry, ["serve", config], _root);
        await FreePort.WaitUntilListeningAsync(Port, _process, TimeSpan.FromSeconds(10));
    }

    // Apache combined format: 127.0.0.1 - user [date] "GET /v2/... HTTP/1.1" 200 123 "referer" "agent"
    [GeneratedRegex("\"(?<method>[A-Z]+) (?<uri>\\S+) HTTP/[0-9.]+\" (?<status>[0-9]{3}) (?<bytes>[0-9]+|-)")]
    private static partial Regex AccessLine();
}
