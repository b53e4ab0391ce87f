using System.Globalization;
using Dragonfly.PubSub.Broker.Tests.Support;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Security;

/// <summary><c>dfbroker token|cert</c> with the broker stopped (on its store) and their one-line errors and exit codes.</summary>
public sealed class AdminCliTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("dfadmin-").FullName;
    private readonly string _files = Directory.CreateTempSubdirectory("dfadmin-files-").FullName;

    public void Dispose()
    {
        TempDirectory.Delete(_dataDir);
        TempDirectory.Delete(_files);
    }

    [Fact]
    public async Task TokenCreatedAndPeerRevoked_WhileStopped_AreHonouredWhenTheBrokerStarts()
    {
        var token = await BrokerCommand.CreateTokenAsync(_dataDir, "agent", 1);
        var revoked = await BrokerCommand.RunAsync("cert", "revoke", "agent-000000000bad", "--data-dir", _dataDir);
        Assert.Equal((0, "revoked peer agent-000000000bad\n"), (revoked.ExitCode, revoked.Stdout));
        Assert.Contains("never certified", revoked.Stderr);
        Assert.False(File.Exists(Path.Combine(_dataDir, "dfbroker.sock")));

        await using var broker = await InProcessBroker.StartAsync("admin", seed: false, secure: true, adjust: o => o with { DataDir = _dataDir });
        // The broker started on the CA the stopped-broker command created: the token's pin matches.
        using var peer = await EnrolledPeer.EnrollAsync(broker, token, _files);
        var port = broker.ReadyInfo.GetProperty("mqttsPort").GetInt32().ToString(CultureInfo.InvariantCulture);
        var list = await ProcessRunner.RunAsync("mosquitto_sub",
            ["-h", "127.0.0.1", "-p", port, "--cafile", peer.CaFile, "--cert", peer.CertFile, "--key", peer.KeyFile, "-i", peer.PeerId, "-t", "dragonfly/revoked", "-C", "1", "-W", "10"],
            timeout: TimeSpan.FromSeconds(30));
        Assert.Equal("[\"agent-000000000bad\"]", list.Stdout.Trim());
    }

    [Theory]
    [InlineData(2, "--role 'bogus' is not one of agent, seed, publisher, admin (several with commas, e.g. agent,publisher)", "token", "create", "--role", "bogus")]
    [InlineData(2, "--role 'agent,broker' is not one of agent, seed, publisher, admin (several with commas, e.g. agent,publisher)", "token", "create", "--role", "agent,broker")]
    [InlineData(2, "--role 'agent,' is not one of agent, seed, publisher, admin (several with commas, e.g. agent,publisher)", "token", "create", "--role", "agent,")]
    [InlineData(2, "--ttl 'soon' is not a duration; write e.g. 1h, 24h or 7d", "token", "create", "--role", "agent", "--ttl", "soon")]
    [InlineData(2, "--uses 0: a token must allow at least one enrolment", "token", "create", "--role", "agent", "--uses", "0")]
    [InlineData(2, "give --role agent|seed|publisher|admin (a join token) or --scope read|preheat (an API token), one of them", "token", "create")]
    [InlineData(2, "give --role agent|seed|publisher|admin (a join token) or --scope read|preheat (an API token), one of them", "token", "create", "--role", "admin", "--scope", "read")]
    [InlineData(2, "--scope 'write' is not one of read, preheat (both with commas: read,preheat)", "token", "create", "--scope", "write")]
    [InlineData(1, "no join or API token '0123456789ab' is known to this broker", "token", "revoke", "0123456789ab")]
    public async Task BadInput_IsOneLine_WithItsExitCode(int exit, string message, params string[] args)
    {
        // The store must exist for revoke; creating a token first makes it.
        await BrokerCommand.CreateTokenAsync(_dataDir);

        var result = await BrokerCommand.RunAsync([.. args, "--data-dir", _dataDir]);

        Assert.Equal(exit, result.ExitCode);
        Assert.Equal($"dfbroker: {message}\n", result.Stderr);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task TokenCreate_Json_DescribesTheGrantWithoutStoringTheSecret()
    {
        var result = await BrokerCommand.RunAsync("token", "create", "--role", "seed", "--topics", "images/#", "--ttl", "2h", "--uses", "3", "--json", "--data-dir", _dataDir);

        Assert.Equal(0, result.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        var token = json.RootElement.GetProperty("token").GetString()!;
        Assert.Equal(("seed", 3, "images/#"), (json.RootElement.GetProperty("role").GetString(), json.RootElement.GetProperty("uses").GetInt32(),
            json.RootElement.GetProperty("topics")[0].GetString()));
        Assert.StartsWith($"dfj1.{json.RootElement.GetProperty("id").GetString()}.", token);
        // The secret is not in the store (only its hash is).
        var secret = token.Split('.')[2];
        Assert.DoesNotContain(secret, await ReadAllBytesAsText(Path.Combine(_dataDir, "broker.db")));
        Assert.Equal(System.IO.UnixFileMode.UserRead | System.IO.UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dataDir, "tls", "ca.key")));
    }

    private static async Task<string> ReadAllBytesAsText(string path) => System.Text.Encoding.Latin1.GetString(await File.ReadAllBytesAsync(path));
}
