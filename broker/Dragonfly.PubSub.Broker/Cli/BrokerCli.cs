using System.CommandLine;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Cli;

/// <summary>The <c>dfbroker</c> command line.</summary>
public static class BrokerCli
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment)
    {
        var config = new Option<string?>("--config")
        {
            HelpName = "FILE",
            Description = "JSON config file with any of dataDir, listen, mqttPort, grpcPort, httpPort, maxParents, announceManifestMax (bytes; 0: announcements carry no manifest), seed, seedPort, seedUploadLimit, "
                + "s3Endpoint, s3Region, s3AccessKey, s3SecretKey, fileOriginRoots (array of directories), s3Buckets (array of bucket names), allowOrigins (array of hosts, IP addresses or CIDRs), "
                + "mqttsPort, insecure, tlsCa, tlsCaKey, tlsCert, tlsKey, tlsSans (array), certTtl, tlsCiphers, "
                + "registries ({\"host:port\": {\"username\": ..., \"password\": ...}} for preheat). "
                + "Flags override DFBROKER_* environment variables, which override the file; "
                + "s3* keys override the AWS_* environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL); "
                + "registries entries override DFBROKER_REGISTRY_USERNAME/DFBROKER_REGISTRY_PASSWORD, which apply to every other registry.",
        };
        var dataDir = new Option<string?>("--data-dir")
        {
            HelpName = "DIR",
            Description = "Where the catalogue (broker.db) and broker.json live [env DFBROKER_DATA_DIR; default ~/.dragonfly/broker]",
        };
        var listen = new Option<string?>("--listen")
        {
            HelpName = "ADDR",
            Description = "IP address every listener binds [env DFBROKER_LISTEN; default 0.0.0.0]",
        };
        var mqttPort = new Option<int?>("--mqtt-port")
        {
            CustomParser = ParsePort,
            HelpName = "PORT",
            Description = $"MQTT 5 announcements; 0 picks a free port [env DFBROKER_MQTT_PORT; default {BrokerOptions.DefaultMqttPort}]",
        };
        var mqttUrl = new Option<string?>("--mqtt-url")
        {
            HelpName = "URL",
            Description = "Publish announcements into this MQTT 5 broker (mqtt://[USER[:PASSWORD]@]HOST[:PORT], mqtts:// for TLS checked against the "
                + "system trust store) instead of the embedded server, which then opens no MQTT port; agents are told to subscribe there. Who may "
                + "publish on it is up to that broker's ACLs [env DFBROKER_MQTT_URL; config mqttUrl; default: embedded]",
        };
        var state = new Option<string?>("--state")
        {
            HelpName = "URL",
            Description = "Keep the catalogue, preheat jobs and broker heartbeats in this Redis, shared by several brokers (redis://HOST:PORT[,HOST:PORT], or redis-sentinel://HOST:PORT[,HOST:PORT]/SERVICE to follow Sentinel failovers); "
                + "give every broker the same --state, --mqtt-url and fleet CA (see README 'Several brokers') [env DFBROKER_STATE; config state; default: LiteDB in --data-dir]",
        };
        // Across clusters (issue 12).
        var bridgeFrom = new Option<string?>("--bridge-from")
        {
            HelpName = "HOST:PORT[,HOST:PORT]",
            Description = "Another cluster's brokers (their schedulers, as that cluster's agents name them) whose announcements a bridge of the --mqtt-url broker brings into dragonfly/bridged/#: "
                + "their files are fetched once from that cluster's swarm and published here (see README 'Across clusters') [env DFBROKER_BRIDGE_FROM; default: none]",
        };
        var bridgeTo = new Option<string?>("--bridge-to")
        {
            HelpName = "HOST:PORT[,HOST:PORT]",
            Description = "With several brokers here (--state): all of them, as this cluster's agents are given them (--broker), so that a bridged file is published on the broker its digest hashes to "
                + "(the brokers given --bridge-from share the imports through --state: each file once) [env DFBROKER_BRIDGE_TO; default: this broker alone]",
        };
        var grpcPort = new Option<int?>("--grpc-port")
        {
            CustomParser = ParsePort,
            HelpName = "PORT",
            Description = $"gRPC scheduler (h2c); 0 picks a free port [env DFBROKER_GRPC_PORT; default {BrokerOptions.DefaultGrpcPort}]",
        };
        var httpPort = new Option<int?>("--http-port")
        {
            CustomParser = ParsePort,
            HelpName = "PORT",
            Description = $"HTTP API, dashboard, /metrics, /healthz; 0 picks a free port [env DFBROKER_HTTP_PORT; default {BrokerOptions.DefaultHttpPort}]",
        };
        var seedPort = new Option<int?>("--seed-port")
        {
            CustomParser = ParsePort,
            HelpName = "PORT",
            Description = $"Peer port of the in-process seed peer, which fetches URL tasks from their origins once and serves them to the swarm; "
                + $"0 picks a free port [env DFBROKER_SEED_PORT; default {BrokerOptions.DefaultSeedPort}]",
        };
        var seedUploadLimit = new Option<string?>("--seed-upload-limit")
        {
            HelpName = "RATE",
            Description = "Cap the seed's upload, per second (e.g. 11MiB). Set it ~10 % below the uplink where the seed's pieces "
                + "and the scheduler's messages leave through the same queue, so parent sets do not wait behind pieces "
                + "[env DFBROKER_SEED_UPLOAD_LIMIT; config seedUploadLimit; default: no cap]",
        };
        var noSeed = new Option<bool>("--no-seed")
        {
            Description = "Run without the in-process seed peer (config: \"seed\": false); URL tasks are then fetched by dfagent --seed peers, "
                + "or by exactly one agent of the task (in secure mode only one enrolled with the seed role)",
        };
        var fileOriginRoot = new Option<string[]>("--file-origin-root")
        {
            HelpName = "DIR",
            Description = "Allow file:// URL tasks for files under DIR (repeatable; symbolic links and '..' are resolved first). "
                + "Without it file:// origins are refused, since the seed would read them on this host for anyone reaching the gRPC port "
                + $"[env DFBROKER_FILE_ORIGIN_ROOTS, a '{Path.PathSeparator}'-separated list; config fileOriginRoots]",
        };
        var s3Bucket = new Option<string[]>("--s3-bucket")
        {
            HelpName = "BUCKET",
            Description = "Allow s3:// URL tasks for objects in BUCKET (repeatable). Without it s3:// origins are refused, since the seed would "
                + "read any bucket with the broker's S3 credentials for anyone reaching the gRPC port [env DFBROKER_S3_BUCKETS, comma-separated; config s3Buckets]",
        };
        var allowOrigin = new Option<string[]>("--allow-origin")
        {
            HelpName = "HOST|IP|CIDR",
            Description = "Let the broker and its seed fetch URL tasks from this internal origin (repeatable). Without it they refuse "
                + "loopback, link-local (169.254.169.254), private (10/8, 172.16/12, 192.168/16, 100.64/10), unique-local (fc00::/7) and "
                + "reserved addresses, checked after DNS resolution and at every redirect, so a URL task cannot reach the broker's own network "
                + "[env DFBROKER_ALLOW_ORIGINS, comma-separated; config allowOrigins]",
        };
        var mqttsPort = new Option<int?>("--mqtts-port")
        {
            CustomParser = ParsePort,
            HelpName = "PORT",
            Description = $"MQTT over TLS with client certificates (secure mode; plain --mqtt-port is then not opened); 0 picks a free port [env DFBROKER_MQTTS_PORT; default {BrokerOptions.DefaultMqttsPort}]",
        };
        var insecure = new Option<bool>("--insecure")
        {
            Description = "No TLS and no client certificates anywhere (plain MQTT on --mqtt-port, h2c, HTTP), as before issue 9; logged as a warning and shown "
                + "on the dashboard. Agents must run with --insecure too [env DFBROKER_INSECURE=1; config insecure]",
        };
        var tlsCa = new Option<string?>("--tls-ca")
        {
            HelpName = "FILE",
            Description = "PEM CA certificate(s) to trust instead of the built-in CA, which is created in <data-dir>/tls on first start [env DFBROKER_TLS_CA; config tlsCa]",
        };
        var tlsCaKey = new Option<string?>("--tls-ca-key")
        {
            HelpName = "FILE",
            Description = "The private key of --tls-ca, so that this broker can enrol agents and certify its seed under that CA [env DFBROKER_TLS_CA_KEY; config tlsCaKey]",
        };
        var tlsCert = new Option<string?>("--tls-cert")
        {
            HelpName = "FILE",
            Description = "PEM server certificate (with --tls-key and --tls-ca) instead of one the broker issues itself at every start [env DFBROKER_TLS_CERT; config tlsCert]",
        };
        var tlsKey = new Option<string?>("--tls-key")
        {
            HelpName = "FILE",
            Description = "PEM private key of --tls-cert [env DFBROKER_TLS_KEY; config tlsKey]",
        };
        var tlsSan = new Option<string[]>("--tls-san")
        {
            HelpName = "NAME|IP",
            Description = "Another DNS name or IP address for the issued server certificate, beyond localhost, 127.0.0.1, ::1, the host name and --listen "
                + "(repeatable) [env DFBROKER_TLS_SANS, comma-separated; config tlsSans]",
        };
        var certTtl = new Option<string?>("--cert-ttl")
        {
            HelpName = "DURATION",
            Description = "Lifetime of the peer certificates the broker issues (agents renew at two thirds), e.g. 24h, 90m, 7d [env DFBROKER_CERT_TTL; config certTtl; default 24h]",
        };
        var tlsCiphers = new Option<string?>("--tls-ciphers")
        {
            HelpName = "LIST",
            Description = $"TLS 1.3 cipher suites, most preferred first: {Dragonfly.PubSub.Security.TlsCiphers.Choices} or a comma-separated list; "
                + "default: aes-128-gcm,aes-256-gcm [env DFBROKER_TLS_CIPHERS; config tlsCiphers]",
        };
        var verbose = new Option<bool>("--verbose")
        {
            Description = "Debug logging, and stack traces with errors",
        };

        var root = new RootCommand(
            "dfbroker: the Dragonfly.PubSub supernode. Announces artifacts over MQTT 5 (topic dragonfly/announce/<topic>), "
            + "schedules agents over gRPC, hosts a seed peer for URL tasks (data in <data-dir>/seed) and serves the HTTP API and dashboard. "
            + "Secure by default: TLS 1.3 everywhere, client certificates from the fleet CA in <data-dir>/tls (agents enrol with a join token: "
            + "dfbroker token create). Prints 'dfbroker ready mqtt-port=N grpc-port=N http-port=N seed-port=N mqtts-port=N tls=on|off' "
            + "(mqtt-port=0 with TLS, mqtts-port=0 with --insecure, seed-port=0 with --no-seed) and writes <data-dir>/broker.json once listening.")
        {
            config, dataDir, listen, mqttPort, mqttsPort, mqttUrl, state, bridgeFrom, bridgeTo, grpcPort, httpPort, seedPort, seedUploadLimit, noSeed, fileOriginRoot, s3Bucket, allowOrigin,
            insecure, tlsCa, tlsCaKey, tlsCert, tlsKey, tlsSan, certTtl, tlsCiphers, verbose,
        };

        var file = new Argument<string>("FILE") { Description = "The JSON config file to check" };
        var validate = new Command("validate", "Check a config file: prints 'ok' (exit 0) or one line per problem (exit 2)") { file };
        validate.SetAction(parse =>
        {
            var (_, problems) = BrokerConfigFile.Load(parse.GetRequiredValue(file));
            if (problems.Count == 0)
            {
                stdout.WriteLine("ok");
                return ExitCodes.Success;
            }
            foreach (var problem in problems)
            {
                stdout.WriteLine(problem);
            }
            return ExitCodes.Usage;
        });
        root.Subcommands.Add(new Command("config", "Work with dfbroker config files") { validate });
        AdminCommands.AddTo(root, stdout, stderr, environment);

        root.SetAction(async (parse, cancellationToken) =>
        {
            var isVerbose = parse.GetValue(verbose);
            try
            {
                var options = BrokerOptionsResolver.Resolve(new BrokerCommandLine
                {
                    ConfigFile = parse.GetValue(config),
                    DataDir = parse.GetValue(dataDir),
                    Listen = parse.GetValue(listen),
                    MqttPort = parse.GetValue(mqttPort),
                    MqttUrl = parse.GetValue(mqttUrl),
                    State = parse.GetValue(state),
                    BridgeFrom = parse.GetValue(bridgeFrom),
                    BridgeTo = parse.GetValue(bridgeTo),
                    GrpcPort = parse.GetValue(grpcPort),
                    HttpPort = parse.GetValue(httpPort),
                    SeedPort = parse.GetValue(seedPort),
                    SeedUploadLimit = parse.GetValue(seedUploadLimit),
                    NoSeed = parse.GetValue(noSeed),
                    FileOriginRoots = parse.GetValue(fileOriginRoot) ?? [],
                    S3Buckets = parse.GetValue(s3Bucket) ?? [],
                    AllowOrigins = parse.GetValue(allowOrigin) ?? [],
                    Verbose = isVerbose,
                    MqttsPort = parse.GetValue(mqttsPort),
                    Insecure = parse.GetValue(insecure),
                    TlsCa = parse.GetValue(tlsCa),
                    TlsCaKey = parse.GetValue(tlsCaKey),
                    TlsCert = parse.GetValue(tlsCert),
                    TlsKey = parse.GetValue(tlsKey),
                    TlsSans = parse.GetValue(tlsSan) ?? [],
                    CertTtl = parse.GetValue(certTtl),
                    TlsCiphers = parse.GetValue(tlsCiphers),
                }, environment);
                return await BrokerHost.RunAsync(options with { SettleHeapAfterStart = true }, cancellationToken).ConfigureAwait(false);
            }
            catch (UserFacingException e)
            {
                stderr.WriteLine(isVerbose && e.InnerException is { } inner ? $"dfbroker: {e.Message}{Environment.NewLine}{inner}" : $"dfbroker: {e.Message}");
                return e.ExitCode;
            }
            catch (Exception e) when (!isVerbose)
            {
                stderr.WriteLine($"dfbroker: {e.Message} (run with --verbose for details)");
                return ExitCodes.Failed;
            }
        });

        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            stderr.WriteLine($"dfbroker: {result.Errors[0].Message} (see dfbroker --help)");
            return ExitCodes.Usage;
        }
        // The host handles SIGINT/SIGTERM itself and stops gracefully; no forced exit from the parser.
        return await result.InvokeAsync(new InvocationConfiguration
        {
            ProcessTerminationTimeout = null,
            Output = stdout,
            Error = stderr,
        }).ConfigureAwait(false);
    }

    private static int? ParsePort(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port <= 65535)
        {
            return port;
        }
        var option = (result.Parent as System.CommandLine.Parsing.OptionResult)?.Option.Name ?? "port";
        result.AddError($"{option} '{text}' is not a port; use 0 (pick a free one) to 65535");
        return null;
    }
}
