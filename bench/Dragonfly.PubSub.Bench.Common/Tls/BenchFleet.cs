using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Bench.Common.Tls;

/// <summary>
/// The credentials of a benchmark's secure fleet (<c>--tls on</c>), made the way an operator makes them
/// (README, Security; the QuickStart and the integration tests' TestFleet do the same): the broker, started
/// without <c>--insecure</c>, has created its fleet CA in <c>&lt;data-dir&gt;/tls</c>; one join token with
/// many uses comes from it (<c>dfbroker token create --role agent,publisher</c>, over its admin socket
/// <c>&lt;data-dir&gt;/dfbroker.sock</c>) into a 0600 file that every dfagent enrols with (<c>--token-file</c>).
/// dfbench's own clients of the broker's HTTPS port (/metrics, /healthz) trust that CA and nothing else.
/// </summary>
public sealed class BenchFleet
{
    /// <summary>Enough enrolments for every agent of a long benchmark (a fresh agent per measurement).</summary>
    public const int TokenUses = 10_000;

    private static readonly TimeSpan TokenTimeout = TimeSpan.FromSeconds(60);

    private BenchFleet(string brokerDataDir, string tokenFile)
    {
        BrokerDataDir = brokerDataDir;
        TokenFile = tokenFile;
    }

    public string BrokerDataDir { get; }

    /// <summary>The join token, one line, mode 0600, next to the broker's data dir.</summary>
    public string TokenFile { get; }

    /// <summary>The fleet CA the broker created on its first start.</summary>
    public string CaFile => Path.Combine(TlsFiles.DirectoryFor(BrokerDataDir), TlsFiles.CaCertificate);

    /// <summary>Asks the running broker at <paramref name="brokerDataDir"/> for an agent join token and stores it.</summary>
    public static async Task<BenchFleet> CreateAsync(string brokerDataDir, CancellationToken cancel)
    {
        var result = await ProcessRunner.RunAsync(Executables.Broker,
            ["token", "create", "--role", "agent,publisher", "--uses", $"{TokenUses}", "--ttl", "24h", "--data-dir", brokerDataDir], TokenTimeout, cancel);
        var token = result.Stdout.Trim().Split('\n')[^1].Trim();
        if (result.ExitCode != 0 || !JoinToken.TryParse(token, out _, out _))
        {
            throw new InvalidOperationException($"dfbroker token create --data-dir {brokerDataDir} failed with exit code {result.ExitCode}: {result.Reason}");
        }
        var tokenFile = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(brokerDataDir))!, "agent.token");
        TlsFiles.WriteSecret(tokenFile, token + "\n");
        return new BenchFleet(brokerDataDir, tokenFile);
    }

    /// <summary>What every dfagent of this fleet adds: the token to enrol with and where the broker's HTTPS API (enrolment) is.</summary>
    public IReadOnlyList<string> AgentArguments(string brokerHttpAddress) => ["--token-file", TokenFile, "--broker-http", brokerHttpAddress];

    /// <summary>An HTTP client for the broker's HTTPS port that trusts only this fleet's CA (no client certificate: /metrics and /healthz need none).</summary>
    public HttpClient CreateHttpClient(TimeSpan timeout)
    {
        var ca = TlsFiles.LoadCertificates(CaFile);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is X509Certificate2 leaf && ChainsTo(leaf, ca);
        return new HttpClient(handler) { Timeout = timeout };
    }

    /// <summary>Whether the agent at <paramref name="agentDataDir"/> enrolled: it holds a certificate issued by this fleet's CA.</summary>
    public bool HasEnrolled(string agentDataDir)
    {
        var path = Path.Combine(TlsFiles.DirectoryFor(agentDataDir), TlsFiles.AgentCertificate);
        if (!File.Exists(path))
        {
            return false;
        }
        using var certificate = TlsFiles.LoadCertificate(path);
        return ChainsTo(certificate, TlsFiles.LoadCertificates(CaFile));
    }

    private static bool ChainsTo(X509Certificate2 leaf, X509Certificate2Collection roots)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        return chain.Build(leaf);
    }
}
