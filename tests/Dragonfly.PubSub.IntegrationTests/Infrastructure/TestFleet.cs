using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// The secure test's credentials, made like an operator makes them: a join token for the agents
/// (<c>dfbroker token create --role agent --uses N</c>, handed to every dfagent and dfget through
/// DFAGENT_JOIN_TOKEN/DFGET_JOIN_TOKEN), and an admin identity enrolled with a token of its own,
/// for the test's own clients (gRPC, the HTTPS API, mosquitto_pub, dfpub preheat). Its files are in
/// <c>&lt;root&gt;/test-tls/{agent.crt,agent.key,ca.crt}</c>.
/// </summary>
public sealed class TestFleet
{
    private const int AgentTokenUses = 1000;

    private TestFleet(string agentToken, EnrolledCertificate admin, string dir)
    {
        AgentToken = agentToken;
        Admin = admin;
        Dir = dir;
        Identity = admin.ToIdentity(TlsCiphers.Default);
    }

    /// <summary>A join token with many uses for the test's agents.</summary>
    public string AgentToken { get; }

    public EnrolledCertificate Admin { get; }

    /// <summary>The admin identity (certificate, key, fleet CA) for the test's own TLS clients.</summary>
    public TlsIdentity Identity { get; }

    public string Dir { get; }

    public string CertFile => Path.Combine(Dir, TlsFiles.AgentCertificate);

    public string KeyFile => Path.Combine(Dir, TlsFiles.AgentKey);

    public string CaFile => Path.Combine(Dir, TlsFiles.CaCertificate);

    /// <summary><c>--tls-cert C --tls-key K --tls-ca A</c> of the admin identity.</summary>
    public IReadOnlyList<string> TlsArgs => ["--tls-cert", CertFile, "--tls-key", KeyFile, "--tls-ca", CaFile];

    /// <summary>mosquitto_pub/mosquitto_sub flags to connect as the admin identity (client id = its peer id).</summary>
    public IReadOnlyList<string> MosquittoArgs => ["--cafile", CaFile, "--cert", CertFile, "--key", KeyFile, "-i", Admin.PeerId];

    public static async Task<TestFleet> CreateAsync(TestCluster cluster, BrokerProcess broker)
    {
        var agentToken = await CreateTokenAsync(cluster, broker, "agent", AgentTokenUses);
        var adminToken = await CreateTokenAsync(cluster, broker, "admin", 1);
        if (!JoinToken.TryParse(adminToken, out var token, out var error))
        {
            throw new Xunit.Sdk.XunitException($"dfbroker printed an invalid token: {error}");
        }
        var admin = await EnrolmentClient.EnrollAsync("127.0.0.1", broker.Ports.Http, token, CancellationToken.None);
        var dir = Path.Combine(cluster.Root, "test-tls");
        admin.WriteTo(dir);
        cluster.Log($"test identity {admin.PeerId} (role {admin.Role}) enrolled; agents enrol with a {AgentTokenUses}-use token");
        return new TestFleet(agentToken, admin, dir);
    }

    /// <summary><c>dfbroker token create --role ROLE --uses N --data-dir BROKER</c>; the token is the last stdout line.</summary>
    public static async Task<string> CreateTokenAsync(TestCluster cluster, BrokerProcess broker, string role, int uses, params string[] extraArgs)
    {
        var result = await cluster.RunCliAsync("dfbroker", ["token", "create", "--role", role, "--uses", uses.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", broker.DataDir, .. extraArgs]);
        Assert.True(result.ExitCode == 0, $"dfbroker token create failed:\n{result}");
        return result.LastStdoutLine;
    }
}
