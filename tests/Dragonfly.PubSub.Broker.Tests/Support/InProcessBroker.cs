using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;

namespace Dragonfly.PubSub.Broker.Tests.Support;

/// <summary>
/// A real dfbroker host in this process on loopback with free ports and a temp data dir, ready once
/// its broker.json exists; <see cref="Http"/> talks to its HTTP API. Disposing stops it and deletes the dir.
/// </summary>
public sealed class InProcessBroker : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string _dir;
    private readonly CancellationTokenSource _stop;
    private readonly Task<int> _run;

    private InProcessBroker(string dir, CancellationTokenSource stop, Task<int> run, bool secure)
    {
        _dir = dir;
        _stop = stop;
        _run = run;
        Http = secure
            ? new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = TrustsOnlyTheBrokerCa } }) { Timeout = Timeout }
            : new HttpClient { Timeout = Timeout };
    }

    public HttpClient Http { get; }

    /// <summary>The data dir (its tls/ holds the broker's CA in secure mode).</summary>
    public string DataDir => _dir;

    /// <summary>What the broker wrote to broker.json once ready.</summary>
    public JsonElement ReadyInfo { get; private set; }

    /// <summary>
    /// Starts a broker; <paramref name="seed"/> false runs it without its in-process seed peer. Plain text
    /// (--insecure) unless <paramref name="secure"/>: then <see cref="Http"/> speaks HTTPS and trusts the broker's CA.
    /// </summary>
    public static async Task<InProcessBroker> StartAsync(string name, bool seed, bool secure = false, Func<BrokerOptions, BrokerOptions>? adjust = null)
    {
        var dir = Directory.CreateTempSubdirectory($"dfbroker-{name}-").FullName;
        var options = new BrokerOptions
        {
            DataDir = dir,
            Listen = IPAddress.Loopback,
            MqttPort = 0,
            GrpcPort = 0,
            HttpPort = 0,
            SeedPort = 0,
            Seed = seed,
            MqttsPort = 0,
            Tls = new BrokerTlsOptions { Insecure = !secure },
            // The tests' origins (nginx, docker-registry) listen on loopback, which the egress policy refuses by default.
            Egress = Dragonfly.PubSub.Origins.EgressPolicy.PublicOnly(["127.0.0.1"]),
        };
        options = adjust?.Invoke(options) ?? options;
        if (options.DataDir != dir)
        {
            Directory.Delete(dir);
            dir = options.DataDir;
        }
        var stop = new CancellationTokenSource();
        var broker = new InProcessBroker(dir, stop, Task.Run(() => BrokerHost.RunAsync(options, stop.Token)), secure);
        try
        {
            var ready = Path.Combine(dir, BrokerHost.ReadyFileName);
            var deadline = DateTime.UtcNow + Timeout;
            while (!File.Exists(ready))
            {
                if (broker._run.IsCompleted || DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"the broker did not start: {(broker._run.IsFaulted ? broker._run.Exception : "timeout")}");
                }
                await Task.Delay(20); // polls for a file; the interval does not matter
            }
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(ready));
            broker.ReadyInfo = json.RootElement.Clone();
            var scheme = secure ? "https" : "http";
            broker.Http.BaseAddress = new Uri($"{scheme}://127.0.0.1:{json.RootElement.GetProperty("httpPort").GetInt32()}/");
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>The broker's certificate must chain to the CA in its data dir (what curl --cacert does).</summary>
    private bool TrustsOnlyTheBrokerCa(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }
        using var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_dir, "tls", "ca.crt"));
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(ca);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run.WaitAsync(Timeout);
        }
        finally
        {
            Http.Dispose();
            _stop.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }
}
