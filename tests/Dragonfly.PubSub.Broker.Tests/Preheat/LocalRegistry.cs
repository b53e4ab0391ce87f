using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Broker.Tests.Preheat;

/// <summary>
/// Debian's docker-registry (CNCF Distribution) on 127.0.0.1, anonymous, data in a temp directory;
/// images are pushed through its HTTP API. Its access log is kept to count blob GETs. Disposal kills
/// the process it started (by its own PID).
/// </summary>
internal sealed partial class LocalRegistry : IDisposable
{
    public const string Executable = "/usr/bin/docker-registry";

    private readonly string _root;
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private LocalRegistry(string root, int port, Process process)
    {
        _root = root;
        Port = port;
        _process = process;
        _http.BaseAddress = new Uri($"http://127.0.0.1:{port}/");
    }

    public int Port { get; }

    public string Name => $"127.0.0.1:{Port}";

    public static async Task<LocalRegistry> StartAsync()
    {
        var root = Directory.CreateTempSubdirectory("dfbroker-registry-").FullName;
        var port = FreePort();
        var config = Path.Combine(root, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: false
            storage:
              filesystem:
                rootdirectory: {Path.Combine(root, "data")}
            http:
              addr: 127.0.0.1:{port}
              secret: dragonfly-broker-test
            """);
        var info = new ProcessStartInfo(Executable, ["serve", config])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        var registry = new LocalRegistry(root, port, new Process { StartInfo = info });
        registry._process.OutputDataReceived += (_, e) => registry.Append(e.Data);
        registry._process.ErrorDataReceived += (_, e) => registry.Append(e.Data);
        registry._process.Start();
        registry._process.BeginOutputReadLine();
        registry._process.BeginErrorReadLine();
        try
        {
            await registry.WaitUntilListeningAsync();
        }
        catch
        {
            registry.Dispose();
            throw;
        }
        return registry;
    }

    /// <summary>Uploads a blob (monolithic: POST then PUT with the digest) and returns its digest.</summary>
    public async Task<ContentDigest> PushBlobAsync(string repository, byte[] content)
    {
        var digest = ContentDigest.FromHash(SHA256.HashData(content));
        using var start = await _http.PostAsync($"v2/{repository}/blobs/uploads/", null);
        start.EnsureSuccessStatusCode();
        var location = start.Headers.Location!.ToString();
        var url = location + (location.Contains('?') ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest.ToString());
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var put = await _http.PutAsync(url, body);
        put.EnsureSuccessStatusCode();
        return digest;
    }

    public async Task<ContentDigest> PushManifestAsync(string repository, string reference, string mediaType, byte[] content)
    {
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var put = await _http.PutAsync($"v2/{repository}/manifests/{reference}", body);
        if (!put.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"PUT manifest: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
        }
        return ContentDigest.FromHash(SHA256.HashData(content));
    }

    /// <summary>Successful GETs of the blob, as the access log shows them so far.</summary>
    public int BlobGets(ContentDigest digest)
    {
        string log;
        lock (_log)
        {
            log = _log.ToString();
        }
        return AccessLine().Matches(log).Count(m => m.Groups["method"].Value == "GET"
            && m.Groups["status"].Value.StartsWith('2')
            && m.Groups["uri"].Value.Split('?')[0].EndsWith("/blobs/" + digest, StringComparison.Ordinal));
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        _process.Dispose();
        _http.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    private async Task WaitUntilListeningAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"docker-registry exited: {_log}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // Apache combined format: 127.0.0.1 - - [date] "GET /v2/... HTTP/1.1" 200 123 "referer" "agent"
    [GeneratedRegex("\"(?<method>[A-Z]+) (?<uri>\\S+) HTTP/[0-9.]+\" (?<status>[0-9]{3}) ")]
    private static partial Regex AccessLine();
}
