using System.Net;
using System.Net.Sockets;
using System.Text;
using Dragonfly.PubSub.IntegrationTests.BackToSource;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, attack 3 (server-side request forgery), on real processes: a URL task may not make the
/// broker or its seed connect to loopback, link-local (the metadata service) or private addresses,
/// directly or through a redirect, unless <c>dfbroker --allow-origin</c> names them. Enforced in both
/// modes (it does not depend on identities).
/// </summary>
public sealed class EgressPolicyTests(ITestOutputHelper output)
{
    [Fact]
    public Task UrlTask_ToLoopbackOrMetadata_OrRedirectedThere_IsRefusedWithOneLine_AndTheListenerSeesNoConnection() => TestCluster.RunAsync(output, async cluster =>
    {
        using var victim = new CountingListener(_ => "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret");
        // A redirector that the broker is allowed to reach by name (localhost), pointing at the victim by address.
        using var redirector = new CountingListener(_ => $"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{victim.Port}/latest\r\nContent-Length: 0\r\n\r\n",
            IPAddress.Loopback);
        // Not 127.0.0.1: the harness's default allowance is replaced by one for the redirector's name only.
        await cluster.StartBrokerAsync(extraArgs: ["--allow-origin", "localhost"]);
        var agent = await cluster.StartAgentAsync("agent");

        var cases = new (string Name, Uri Url, string Expect)[]
        {
            ("loopback", new Uri($"http://127.0.0.1:{victim.Port}/latest"), "--allow-origin 127.0.0.1"),
            ("metadata", new Uri("http://169.254.169.254/latest/meta-data/"), "--allow-origin 169.254.169.254"),
            ("redirect", new Uri($"http://localhost:{redirector.Port}/file"), "--allow-origin 127.0.0.1"),
        };
        foreach (var (name, url, expect) in cases)
        {
            var outputFile = cluster.OutputPath(name, "file.bin");
            var result = await cluster.DfgetAsync(agent, url, outputFile, TimeSpan.FromSeconds(60));
            UrlTasks.AssertFailedWithoutOutput(result, outputFile, 1);
            Assert.Contains("internal address", result.Stderr, StringComparison.Ordinal);
            Assert.Contains(expect, result.Stderr, StringComparison.Ordinal);
        }
        Assert.True(redirector.Accepted >= 1, "the allowed redirector should have been asked (else the redirect case proves nothing)");
        Assert.Equal(0, victim.Accepted);
    });

    [Fact]
    public Task S3OrFileUrl_OutsideTheConfiguredBucketsAndRoots_IsRefusedWithOneLine_AndNothingIsRead() => TestCluster.RunAsync(output, async cluster =>
    {
        // The broker's S3 endpoint is a listener that counts: a refused s3:// task must not reach it.
        using var endpoint = new CountingListener(_ => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        cluster.Launcher.SetEnvironment("AWS_ENDPOINT_URL", $"http://127.0.0.1:{endpoint.Port}");
        cluster.Launcher.SetEnvironment("AWS_ACCESS_KEY_ID", "broker-key");
        cluster.Launcher.SetEnvironment("AWS_SECRET_ACCESS_KEY", "broker-secret");
        var allowedRoot = Directory.CreateDirectory(Path.Combine(cluster.Root, "published")).FullName;
        var secret = Path.Combine(cluster.Root, "secret.txt");
        await File.WriteAllTextAsync(secret, "the broker host's file");
        // A link inside the allowed root that points out of it is resolved before the check.
        File.CreateSymbolicLink(Path.Combine(allowedRoot, "escape.txt"), secret);
        await cluster.StartBrokerAsync(extraArgs: ["--s3-bucket", "artifacts", "--file-origin-root", allowedRoot]);
        var agent = await cluster.StartAgentAsync("agent");

        var cases = new (string Name, Uri Url, string Expect)[]
        {
            ("other-bucket", new Uri("s3://payroll/2026/salaries.csv"), "--s3-bucket payroll"),
            ("outside-root", new Uri("file://" + secret), "--file-origin-root"),
            ("link-out-of-root", new Uri("file://" + Path.Combine(allowedRoot, "escape.txt")), "--file-origin-root"),
        };
        foreach (var (name, url, expect) in cases)
        {
            var outputFile = cluster.OutputPath(name, "file.bin");
            var result = await cluster.DfgetAsync(agent, url, outputFile, TimeSpan.FromSeconds(60));
            UrlTasks.AssertFailedWithoutOutput(result, outputFile, 1);
            Assert.Contains(expect, result.Stderr, StringComparison.Ordinal);
        }
        Assert.Equal(0, endpoint.Accepted);
    });

    /// <summary>A loopback TCP listener that answers every connection with one canned HTTP response and counts connections.</summary>
    private sealed class CountingListener : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop = new();
        private int _accepted;

        public CountingListener(Func<int, string> response, IPAddress? address = null)
        {
            _listener = new TcpListener(address ?? IPAddress.Loopback, 0);
            _listener.Start();
            _ = ServeAsync(response);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public int Accepted => Volatile.Read(ref _accepted);

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }

        private async Task ServeAsync(Func<int, string> response)
        {
            try
            {
                while (true)
                {
                    using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    var count = Interlocked.Increment(ref _accepted);
                    var stream = client.GetStream();
                    var buffer = new byte[8192];
                    if (await stream.ReadAsync(buffer, _stop.Token) == 0)
                    {
                        continue; // closed without a request; counted all the same
                    }
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(response(count)), _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException or IOException)
            {
                // Stopped.
            }
        }
    }
}
