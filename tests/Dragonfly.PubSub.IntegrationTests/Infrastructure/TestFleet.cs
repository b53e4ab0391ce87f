using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// The secure test's credentials, made like an operator makes them: a join token for the agents
/// (<c>dfbroker token create --role agent,publisher --uses N</c>: every test agent may also run dfpub;
/// handed to every dfagent and dfget through DFAGENT_JOIN_TOKEN/DFGET_JOIN_TOKEN), one of role seed for
/// the <c>dfagent --seed</c> a test starts, and an admin identity enrolled with a token of its own,
/// for the test's own clients (gRPC, the HTTPS API, mosquitto_pub, dfpub preheat). Its files are in
/// <c>&lt;root&gt;/test-tls/{agent.crt,agent.key,ca.crt}</c>.
/// </summary>
public sealed class TestFleet
{
    private const int AgentTokenUses = 1000;

    /// <summary>The roles of the test agents' token: they subscribe, and every one of them may publish.</summary>
    public const string AgentRoles = "agent,publisher";

    private TestFleet(string agentToken, string seedToken, EnrolledCertificate admin, string dir)
    {
        AgentToken = agentToken;
        SeedToken = seedToken;
        Admin = admin;
        Dir = dir;
        Identity = admin.ToIdentity(TlsCiphers.Default);
    }

    /// <summary>A join token with many uses for the test's agents.</summary>
    public string AgentToken { get; }

    /// <summary>A join token of role seed with many uses, for <c>dfagent --seed</c> (only seeds may fetch URL tasks from origins).</summary>
    public string SeedToken { get; }

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
        var agentToken = await CreateTokenAsync(cluster, broker, AgentRoles, AgentTokenUses);
        var seedToken = await CreateTokenAsync(cluster, broker, "seed", AgentTokenUses);
        var adminToken = await CreateTokenAsync(cluster, broker, "admin", 1);
        if (!JoinToken.TryParse(adminToken, out var token, out var error))
        {
            throw new Xunit.Sdk.XunitException($"dfbroker printed an invalid token: {error}");
        }
        var admin = await EnrolmentClient.EnrollAsync("127.0.0.1", broker.Ports.Http, token, CancellationToken.None);
        var dir = Path.Combine(cluster.Root, "test-tls");
        admin.WriteTo(dir);
        cluster.Log($"test identity {admin.PeerId} (role {admin.Role}) enrolled; agents enrol with a {AgentTokenUses}-use token");
        return new TestFleet(agentToken, seedToken, admin, dir);
    }

    /// <summary><c>dfbroker token create --role ROLE --uses N --data-dir BROKER</c>; the token is the last stdout line.</summary>
    public static async Task<string> CreateTokenAsync(TestCluster cluster, BrokerProcess broker, string role, int uses, params string[] extraArgs)
    {
        var result = await cluster.RunCliAsync("dfbroker", ["token", "create", "--role", role, "--uses", uses.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", broker.DataDir, .. extraArgs]);
        Assert.True(result.ExitCode == 0, $"dfbroker token create failed:\n{result}");
        return result.LastStdoutLine;
    }
}
