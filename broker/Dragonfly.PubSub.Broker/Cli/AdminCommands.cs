using System.CommandLine;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Cli;

/// <summary>
/// <c>dfbroker token create|revoke</c> and <c>dfbroker cert revoke</c>: through the running broker's admin
/// socket (&lt;data-dir&gt;/dfbroker.sock) when it runs, so that revocations cut live sessions at once;
/// on its store directly when it is stopped.
/// </summary>
internal static class AdminCommands
{
    public static void AddTo(RootCommand root, TextWriter stdout, TextWriter stderr, Func<string, string?> environment)
    {
        var role = new Option<string>("--role")
        {
            HelpName = "agent|seed|publisher|admin[,...]",
            Description = "What the enrolled peer may do; several with commas (agent,publisher for a machine that also runs dfpub): "
                + "agent subscribes within --topics and pulls, publisher announces within --topics, seed may fetch URL tasks from their origins, admin uses the API",
        };
        var scope = new Option<string?>("--scope")
        {
            HelpName = "read|preheat[,...]",
            Description = "Make an API token for the broker's HTTP API instead of a join token (Authorization: Bearer TOKEN): "
                + "read = the dashboard and GET /api/v1/* from other hosts, preheat = POST /api/v1/preheat within --topics",
        };
        var topics = new Option<string[]>("--topics")
        {
            HelpName = "FILTER",
            Description = "A topic filter the peer may subscribe to and publish on, written into its certificate (repeatable; e.g. images/#) [default: every topic]",
            AllowMultipleArgumentsPerToken = true,
        };
        var ttl = new Option<string?>("--ttl") { HelpName = "DURATION", Description = "How long the token can be used, e.g. 1h, 24h, 7d [default 24h]" };
        var uses = new Option<int>("--uses") { HelpName = "N", Description = "How many peers may enrol with it (1: a one-time token)", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print the token and what it grants as JSON instead of the token alone" };
        var create = new Command("create", "Make a join token and print it (one line on stdout) for: dfagent --join-token TOKEN; with --scope an API token for the HTTP API")
        {
            role, scope, topics, ttl, uses, json, DataDir(),
        };
        create.SetAction((parse, ct) => RunAsync(parse, stderr, environment, needCa: true, async admin =>
        {
            var (roleText, scopeText) = (parse.GetValue(role), parse.GetValue(scope));
            if ((roleText is null) == (scopeText is null))
            {
                throw UserFacingException.Usage("give --role agent|seed|publisher|admin (a join token) or --scope read|preheat (an API token), one of them");
            }
            IReadOnlyList<PeerRole> parsedRoles = [];
            IReadOnlyList<ApiScope> parsedScopes = [];
            if (scopeText is not null && !ApiScopes.TryParseList(scopeText, out parsedScopes))
            {
                throw UserFacingException.Usage($"--scope '{scopeText}' is not one of read, preheat (both with commas: read,preheat)");
            }
            if (roleText is not null && (!PeerRoles.TryParseList(roleText, out parsedRoles) || parsedRoles.Contains(PeerRole.Broker)))
            {
                throw UserFacingException.Usage($"--role '{roleText}' is not one of agent, seed, publisher, admin (several with commas, e.g. agent,publisher)");
            }
            var ttlText = parse.GetValue(ttl);
            TimeSpan? lifetime = TokenRequest.DefaultTtl;
            if (ttlText is not null && !Durations.TryParse(ttlText, out lifetime))
            {
                throw UserFacingException.Usage($"--ttl '{ttlText}' is not a duration; write e.g. 1h, 24h or 7d");
            }
            var request = new TokenRequest(parsedRoles, parse.GetValue(topics) ?? [], lifetime.Value, parse.GetValue(uses)) { Scopes = parsedScopes };
            if (request.Validate() is { } problem)
            {
                throw UserFacingException.Usage(problem);
            }
            var created = await admin.CreateTokenAsync(request, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                stdout.WriteLine(JsonSerializer.Serialize(created, SecurityJsonContext.Default.TokenCreated));
            }
            else
            {
                stdout.WriteLine(created.Token);
                stderr.WriteLine(created.Scope is { } granted
                    ? $"dfbroker: API token {created.Id}: scope {granted}, expires {created.ExpiresAt:yyyy-MM-ddTHH:mm:ssZ}; send it as Authorization: Bearer TOKEN"
                    : $"dfbroker: token {created.Id}: role {created.Role}, {created.Uses} use(s), expires {created.ExpiresAt:yyyy-MM-ddTHH:mm:ssZ}");
            }
            return ExitCodes.Success;
        }));

        var tokenId = new Argument<string>("ID") { Description = "The token's id (the 12 hex characters after dfj1. or dfa1.)" };
        var revokeToken = new Command("revoke", "Revoke a join token, and every peer that enrolled with it, or an API token") { tokenId, DataDir() };
        revokeToken.SetAction((parse, ct) => RunAsync(parse, stderr, environment, needCa: false, async admin =>
        {
            var id = parse.GetRequiredValue(tokenId);
            var result = await admin.RevokeTokenAsync(id, ct).ConfigureAwait(false);
            if (!result.Found)
            {
                throw new UserFacingException($"no join or API token '{id}' is known to this broker", ExitCodes.Failed);
            }
            stdout.WriteLine(result.RevokedPeers.Count == 0
                ? $"revoked token {id} (no peer had enrolled with it)"
                : $"revoked token {id} and peer(s) {string.Join(", ", result.RevokedPeers)}");
            return ExitCodes.Success;
        }));
        root.Subcommands.Add(new Command("token", "Join tokens for enrolling agents (dfagent --join-token) and API tokens for the HTTP API") { create, revokeToken });

        var peerId = new Argument<string>("PEER_ID") { Description = "The peer id (its certificate's CN), e.g. agent-0123456789ab" };
        var revokeCert = new Command("revoke", "Revoke a peer: refused at its next handshake, its live sessions cut at once, announced on dragonfly/revoked")
        {
            peerId, DataDir(),
        };
        revokeCert.SetAction((parse, ct) => RunAsync(parse, stderr, environment, needCa: false, async admin =>
        {
            var id = parse.GetRequiredValue(peerId);
            var result = await admin.RevokePeerAsync(id, ct).ConfigureAwait(false);
            stdout.WriteLine($"revoked peer {id}");
            if (!result.Found)
            {
                stderr.WriteLine($"dfbroker: note: this broker never certified '{id}'; it is refused anyway");
            }
            return ExitCodes.Success;
        }));
        root.Subcommands.Add(new Command("cert", "Peer certificates") { revokeCert });
    }

    private static Option<string?> DataDir() => new("--data-dir")
    {
        HelpName = "DIR",
        Description = "The broker's data dir [env DFBROKER_DATA_DIR; default ~/.dragonfly/broker]",
    };

    private static async Task<int> RunAsync(
        ParseResult parse, TextWriter stderr, Func<string, string?> environment, bool needCa, Func<IBrokerAdmin, Task<int>> action)
    {
        try
        {
            var dataDir = Path.GetFullPath(parse.GetValue<string?>("--data-dir") ?? BrokerOptions.DefaultDataDir(environment));
            var socket = Path.Combine(dataDir, BrokerOptions.AdminSocketName);
            await using IBrokerAdmin admin = await SocketBrokerAdmin.TryConnectAsync(socket, CancellationToken.None).ConfigureAwait(false) as IBrokerAdmin
                ?? StoreBrokerAdmin.Open(dataDir, needCa, stderr);
            return await action(admin).ConfigureAwait(false);
        }
        catch (UserFacingException e)
        {
            stderr.WriteLine($"dfbroker: {e.Message}");
            return e.ExitCode;
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            stderr.WriteLine($"dfbroker: the broker's admin socket failed: {e.Message}");
            return ExitCodes.Failed;
        }
    }
}
