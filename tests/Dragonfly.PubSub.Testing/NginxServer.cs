using System.Globalization;
using System.Text.RegularExpressions;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A real nginx on 127.0.0.1 (HTTP and HTTPS) with its own config in a temp dir, run in the
/// foreground as a single process so that killing its PID stops it at once. Locations:
/// <c>/files/</c> plain; <c>/norange/</c> ignores Range (<c>max_ranges 0</c>); <c>/fail/</c>
/// answers 503; <c>/private/</c> needs <c>X-Token: secret</c>; <c>/basic/</c> needs
/// alice:s3cret-pw; <c>/redirect/x</c> → 302 to <c>/files/x</c>; <c>/slow/</c> is rate-limited
/// after each response's first <see cref="SlowAfter"/> (256 KiB) when <see cref="SlowRate"/> is set. With a proxy upstream, a third
/// port (<see cref="ProxyPort"/>) passes every request through to it, so that the access log
/// shows what another server (s3rver) served. Every request is logged with its body bytes.
/// </summary>
public sealed partial class NginxServer : IDisposable
{
    public const string BasicUser = "alice";
    public const string BasicPassword = "s3cret-pw";

    private const string StatusPath = "/nginx-status";

    private static readonly TimeSpan DefaultLogWait = TimeSpan.FromSeconds(20);

    private readonly HttpClient _status = new() { Timeout = TimeSpan.FromSeconds(5) };
    private ServerProcess? _process;

    private NginxServer(string root, TestCertificates certificates, Uri? proxyUpstream)
    {
        Root = root;
        Certificates = certificates;
        ProxyUpstream = proxyUpstream;
    }

    public string Root { get; }

    public TestCertificates Certificates { get; }

    public int HttpPort { get; private set; }

    public int HttpsPort { get; private set; }

    /// <summary>The port that proxies to <see cref="ProxyUpstream"/>; 0 without one.</summary>
    public int ProxyPort { get; private set; }

    public Uri? ProxyUpstream { get; }

    /// <summary>Rate of <c>/slow/</c> after each response's first <see cref="SlowAfter"/> (nginx syntax, e.g. <c>256k</c>); null: unlimited.</summary>
    public string? SlowRate { get; set; }

    /// <summary>
    /// What each <c>/slow/</c> response sends before the rate applies (nginx's <c>limit_rate_after</c>). nginx also
    /// lets one second's worth of the rate out at once, so a range is slowed only if it is longer than both: "0"
    /// slows the 256 KiB pieces of a file up to 256 MiB, which the default lets through unslowed.
    /// </summary>
    public string SlowAfter { get; set; } = "256k";

    public static async Task<NginxServer> StartAsync(string? slowRate = null, Uri? proxyUpstream = null, string slowAfter = "256k")
    {
        var root = Directory.CreateTempSubdirectory("dragonfly-nginx-").FullName;
        var server = new NginxServer(root, TestCertificates.Create(), proxyUpstream) { SlowRate = slowRate, SlowAfter = slowAfter };
        try
        {
            foreach (var dir in (string[])["www/files", "www/norange", "www/private", "www/basic", "www/slow", "tmp", "logs"])
            {
                Directory.CreateDirectory(Path.Combine(root, dir));
            }
            await File.WriteAllTextAsync(Path.Combine(root, "server.crt"), server.Certificates.ServerChainPem);
            await File.WriteAllTextAsync(Path.Combine(root, "server.key"), server.Certificates.ServerKeyPem);
            await File.WriteAllTextAsync(Path.Combine(root, "htpasswd"), $"{BasicUser}:{{PLAIN}}{BasicPassword}\n");
            for (var attempt = 1; ; attempt++)
            {
                server.HttpPort = FreePort.Next();
                server.HttpsPort = FreePort.Next();
                server.ProxyPort = proxyUpstream is null ? 0 : FreePort.Next();
                try
                {
                    await server.StartProcessAsync();
                    return server;
                }
                catch (InvalidOperationException) when (attempt < 3)
                {
                    // Another process took a port between probing and binding: pick new ones.
                }
            }
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    public Uri Http(string path) => new($"http://127.0.0.1:{HttpPort}/{path}");

    public Uri Https(string path) => new($"https://127.0.0.1:{HttpsPort}/{path}");

    /// <summary>The base URL of the proxy port (an S3 endpoint when the upstream is s3rver).</summary>
    public Uri Proxy => ProxyPort > 0 ? new Uri($"http://127.0.0.1:{ProxyPort}") : throw new InvalidOperationException("this nginx has no proxy upstream");

    /// <summary>The file behind <c>/&lt;path&gt;</c> (its folder is created), for content written by the caller.</summary>
    public string WwwPath(string path)
    {
        var full = Path.Combine(Root, "www", path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return full;
    }

    /// <summary>Writes <paramref name="size"/> deterministic bytes to <c>www/&lt;path&gt;</c> and returns them.</summary>
    public byte[] AddFile(string path, int size, int seed)
    {
        var bytes = SeededBytes.Create(size, seed);
        File.WriteAllBytes(WwwPath(path), bytes);
        return bytes;
    }

    /// <summary>Requests nginx logged for <paramref name="uriPath"/> (path only, without the query, e.g. <c>/fail/a.bin</c>).</summary>
    public IReadOnlyList<AccessLogEntry> Requests(string uriPath)
    {
        var log = Path.Combine(Root, "logs", "access.log");
        if (!File.Exists(log))
        {
            return [];
        }
        using var stream = new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var entries = new List<AccessLogEntry>();
        while (reader.ReadLine() is { } line)
        {
            // format: METHOD URI STATUS BYTES_SENT BODY_BYTES_SENT "RANGE"
            var parts = line.Split(' ', 6);
            if (parts.Length == 6 && parts[1] == uriPath)
            {
                entries.Add(new AccessLogEntry(parts[0], parts[1], int.Parse(parts[2], CultureInfo.InvariantCulture),
                    long.Parse(parts[3], CultureInfo.InvariantCulture), long.Parse(parts[4], CultureInfo.InvariantCulture), parts[5].Trim('"')));
            }
        }
        return entries;
    }

    /// <summary>
    /// The requests for <paramref name="uriPath"/> once at least <paramref name="atLeast"/> are logged
    /// (nginx logs a request after answering it) and a moment passed in which more could have come.
    /// </summary>
    public async Task<IReadOnlyList<AccessLogEntry>> RequestsAsync(string uriPath, int atLeast, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultLogWait);
        while (Requests(uriPath).Count < atLeast && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        await Task.Delay(100);
        return Requests(uriPath);
    }

    /// <summary>
    /// The body bytes served for <paramref name="uriPath"/> over all requests, once no response is
    /// being written any more (nginx logs a request when it ends), waiting up to <paramref name="timeout"/>.
    /// </summary>
    public async Task<long> ServedBodyBytesAsync(string uriPath, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultLogWait);
        while (await WritingResponsesAsync() > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        await Task.Delay(100);
        return Requests(uriPath).Sum(e => e.BodyBytesSent);
    }

    /// <summary>Responses nginx is writing right now (stub_status "Writing", without the status request itself).</summary>
    public async Task<int> WritingResponsesAsync()
    {
        var text = await _status.GetStringAsync(new Uri($"http://127.0.0.1:{HttpPort}{StatusPath}"));
        var match = WritingCount().Match(text);
        return match.Success
            ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) - 1
            : throw new FormatException($"unexpected nginx stub_status answer: {text}");
    }

    /// <summary>SIGKILL: open connections are cut, new ones refused.</summary>
    public void Kill() => _process?.Kill();

    /// <summary>Starts nginx again on the same ports with the current settings.</summary>
    public Task RestartAsync() => StartProcessAsync();

    public void Dispose()
    {
        try
        {
            _process?.Dispose();
        }
        finally
        {
            _status.Dispose();
            Certificates.Dispose();
            TempDirectory.Delete(Root);
        }
    }

    private async Task StartProcessAsync()
    {
        var config = Path.Combine(Root, "nginx.conf");
        await File.WriteAllTextAsync(config, Config());
        _process?.Dispose();
        _process = ServerProcess.Start("nginx", TestPaths.Nginx, ["-p", Root + "/", "-c", config, "-e", Path.Combine(Root, "logs", "error.log")], Root);
        try
        {
            await FreePort.WaitUntilListeningAsync(HttpPort, _process, TimeSpan.FromSeconds(10));
            await FreePort.WaitUntilListeningAsync(HttpsPort, _process, TimeSpan.FromSeconds(10));
            if (ProxyPort > 0)
            {
                await FreePort.WaitUntilListeningAsync(ProxyPort, _process, TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException e)
        {
            var errors = File.Exists(Path.Combine(Root, "logs", "error.log")) ? File.ReadAllText(Path.Combine(Root, "logs", "error.log")) : "";
            throw new InvalidOperationException(e.Message + "\n" + errors, e);
        }
    }

    private string Config()
    {
        var slow = SlowRate is null ? "" : $"limit_rate_after {SlowAfter}; limit_rate {SlowRate};";
        var proxy = ProxyUpstream is null ? "" : $$"""
                server {
                    listen 127.0.0.1:{{ProxyPort}};
                    client_max_body_size 0;
                    location / {
                        proxy_pass {{ProxyUpstream.GetLeftPart(UriPartial.Authority)}};
                        proxy_http_version 1.1;
                        proxy_set_header Host $http_host;
                        proxy_set_header Connection "";
                        proxy_buffering off;
                        proxy_request_buffering off;
                    }
                }
            """;
        return $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{Root}}/nginx.pid;
            error_log {{Root}}/logs/error.log warn;
            events { worker_connections 1024; }
            http {
                default_type application/octet-stream;
                sendfile on;
                log_format origin '$request_method $uri $status $bytes_sent $body_bytes_sent "$http_range"';
                access_log {{Root}}/logs/access.log origin;
                client_body_temp_path {{Root}}/tmp/body;
                proxy_temp_path {{Root}}/tmp/proxy;
                fastcgi_temp_path {{Root}}/tmp/fastcgi;
                uwsgi_temp_path {{Root}}/tmp/uwsgi;
                scgi_temp_path {{Root}}/tmp/scgi;
                server {
                    listen 127.0.0.1:{{HttpPort}};
                    listen 127.0.0.1:{{HttpsPort}} ssl;
                    ssl_certificate {{Root}}/server.crt;
                    ssl_certificate_key {{Root}}/server.key;
                    root {{Root}}/www;
                    location = {{StatusPath}} { stub_status; access_log off; }
                    location /norange/ { max_ranges 0; }
                    location /fail/ { return 503; }
                    location /private/ { if ($http_x_token != "secret") { return 403; } }
                    location /signed/ { if ($arg_signature != "good") { return 403; } }
                    location /basic/ { auth_basic "origin"; auth_basic_user_file {{Root}}/htpasswd; }
                    location /redirect/ { rewrite ^/redirect/(.*)$ /files/$1 redirect; }
                    location /slow/ { {{slow}} }
                }
            {{proxy}}
            }
            """;
    }

    [GeneratedRegex(@"Writing:\s*(\d+)")]
    private static partial Regex WritingCount();
}
