using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Agent.Cache;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Setup;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Client.CommandLine;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Registry.Mirror;
using Dragonfly.PubSub.Registry.References;
using Dragonfly.PubSub.Transfer.Storage;

// dfagent: the merged client daemon. Subscribes to topics, downloads from the swarm, verifies,
// serves pieces to peers, and answers dfpub/dfget on <data-dir>/dfagent.sock.

// Socket completions run on the socket engine's thread instead of hopping to the thread pool (issue 10).
// Pieces arrive at link rate in a few KB per read; each hop cost a futex wake and a context switch.
// Measured in dfbench swarm (4 x 64 MiB, 100 Mbit/s, TLS, 3 interleaved pairs): context switches
// 72-85k -> 37-41k, CPU 21.6-23.8 -> 17.6-20.3 CPU-s/GB. Read once, before any socket exists; an
// operator's own setting (0 turns it off) wins. Safe here because the agent never blocks a network
// continuation on another network operation (no sync-over-async on sockets).
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}
DefaultMetrics.WithoutEventCounters();

var config = new Option<string?>("--config") { Description = "JSON config file; keys are the long option names in camelCase (e.g. \"downloadLimit\")." };
var broker = new Option<string?>("--broker") { Description = "Broker scheduler address HOST[:PORT] (gRPC, default port 8002), or several brokers sharing one state as HOST:PORT,HOST:PORT,... (each task goes to one of them by rendezvous hashing; a name with several addresses also counts as several). Required (flag, DFAGENT_BROKER or config)." };
var mqtt = new Option<string?>("--mqtt") { Description = "MQTT broker HOST[:PORT] for announcements (default: the broker host on 8883, MQTT over TLS; 1883 with --insecure)." };
var brokerHttp = new Option<string?>("--broker-http") { Description = "The broker's HTTPS API HOST[:PORT], where the agent enrols and renews its certificate (default: the broker host on 8080)." };
var dataDir = new Option<string>("--data-dir") { Description = "Where tasks, content and the API socket live.", DefaultValueFactory = _ => DragonflyClientOptions.DefaultDataDir };
var subscribe = new Option<string[]>("--subscribe", "-s") { Description = "Topic filter to receive artifacts from, e.g. releases/# (MQTT + and # wildcards); repeatable.", Arity = ArgumentArity.ZeroOrMore };
var outputDir = new Option<string?>("--output-dir") { Description = "Where artifacts land, as <output-dir>/<topic>/<name> (default: <data-dir>/downloads)." };
var peerPort = new Option<int>("--peer-port") { Description = "Port that serves pieces to other agents (0 picks a free one).", DefaultValueFactory = _ => 4000 };
var proxyPort = new Option<int>("--proxy-port") { Description = "Port of the OCI registry mirror that docker/containerd/skopeo pull through: blobs come from the swarm (0 picks a free one, -1 = no mirror).", DefaultValueFactory = _ => 4001 };
var registryMirror = new Option<string?>("--registry-mirror") { Description = "Upstream registry URL the mirror serves requests without ?ns=<registry> from, e.g. https://registry-1.docker.io (Docker's registry-mirrors). containerd names the registry itself with ?ns=, so it needs none." };
var allowRegistry = new Option<string[]>("--allow-registry") { Description = "A registry HOST[:PORT] the mirror may fetch from when a request names it with ?ns= (containerd does), besides --registry-mirror; repeatable; '*' allows any. Default: none, so no local process can use the mirror as a fetch proxy.", Arity = ArgumentArity.ZeroOrMore };
var socketGroup = new Option<string?>("--socket-group") { Description = "Group whose members may use the agent's API socket (dfpub, dfget): the socket becomes 0660 and the data dir 0710 of that group. Default: the data dir is 0700 and only the agent's user (and root) reach the socket." };
var httpPort = new Option<int>("--http-port") { Description = "Port of the local HTTP API, /metrics and /healthz (0 picks a free one, -1 = none: the unix socket only).", DefaultValueFactory = _ => 4002 };
var listen = new Option<string>("--listen") { Description = "Address the peer port binds.", DefaultValueFactory = _ => "0.0.0.0" };
var apiListen = new Option<string>("--api-listen") { Description = "Address the local HTTP API (--http-port) and the registry mirror (--proxy-port) bind. Anything but loopback needs TLS: the HTTP API then serves HTTPS with the agent's certificate; the mirror must stay on loopback (or be off: --proxy-port -1).", DefaultValueFactory = _ => "127.0.0.1" };
var advertise = new Option<string?>("--advertise-addr") { Description = "Address other agents dial to reach this one (default: the bound address, or what the broker sees)." };
var downloadLimit = new Option<string?>("--download-limit") { Description = "Cap on download bandwidth, e.g. 20MiB (per second). Default: none." };
var uploadLimit = new Option<string?>("--upload-limit") { Description = "Cap on upload bandwidth, e.g. 20MiB (per second). Default: none." };
var inFlight = new Option<int>("--pieces-in-flight") { Description = "Pieces downloaded at once per task (fewer for pieces of 4 MiB and more: at most 32 MiB in flight).", DefaultValueFactory = _ => Dragonfly.PubSub.Transfer.TransferOptions.DefaultPiecesInFlight };
var uploadSlots = new Option<int>("--upload-slots") { Description = "Pieces served at once to other agents (few and fast beats many and slow).", DefaultValueFactory = _ => 4 };
var cacheSize = new Option<string?>("--cache-size") { Description = "Most bytes the content store may hold that only the agent holds, e.g. 20GiB: least recently used content that no task in progress, download request or output needs is evicted above it (outputs hard-linked to the store share their bytes and do not count). Default: no limit." };
var minFree = new Option<string?>("--min-free") { Description = "Free space to keep on the data dir's filesystem, as a size (10GiB) or a share of it (5%): cached content is evicted below it. Default: none." };
var peerMaxConnections = new Option<int>("--peer-max-connections") { Description = "Open connections the peer port accepts in total; more are closed at once (counted in dragonfly_agent_peer_refused_total{reason=\"connections\"}).", DefaultValueFactory = _ => 1024 };
var peerMaxPerAddress = new Option<int>("--peer-max-connections-per-address") { Description = "Open connections the peer port accepts from one address.", DefaultValueFactory = _ => 256 };
var peerSendTimeout = new Option<int>("--peer-send-timeout") { Description = "Seconds a response to another agent may wait on it to read before its connection is dropped and the upload slot freed.", DefaultValueFactory = _ => 30 };
var cluster = new Option<string?>("--cluster") { Description = "Cluster label; the scheduler prefers parents in the same cluster." };
var zone = new Option<string?>("--zone") { Description = "Zone label." };
var seed = new Option<bool>("--seed") { Description = "Run as a seed peer: the scheduler's preferred source of URL tasks. It fetches from origins (HTTP(S), FTP, S3, file) what the broker assigns it, keeps it in its store (no output files) and serves it to the swarm." };
var s3Endpoint = new Option<string?>("--s3-endpoint") { Description = "S3-compatible endpoint URL for s3:// origins (default: AWS_ENDPOINT_URL, else AWS)." };
var s3Region = new Option<string?>("--s3-region") { Description = "S3 region (default: AWS_REGION, else us-east-1)." };
var s3AccessKey = new Option<string?>("--s3-access-key") { Description = "S3 access key id (default: AWS_ACCESS_KEY_ID; none = anonymous requests)." };
var s3SecretKey = new Option<string?>("--s3-secret-key") { Description = "S3 secret key (default: AWS_SECRET_ACCESS_KEY). Prefer the environment or the config file over the command line." };
var pieceNews = new Option<string>("--piece-news") { Description = "How this agent hears which pieces its parents gained: 'peer' asks each parent for its piece map over the peer protocol (the broker relays nothing; BitTorrent's 'have'), 'broker' has the broker relay every parent's news (as agents before session 16 did; use it while a parent's agent is older).", DefaultValueFactory = _ => "peer" };
var verbose = new Option<bool>("--verbose") { Description = "Debug logging and stack traces on errors." };
// dfget's one-shot agent: it holds our stdin open and we stop when it closes, so the agent never
// outlives the dfget that started it, however dfget ends (even SIGKILL).
var exitWithStdin = new Option<bool>("--exit-with-stdin") { Description = "Stop when standard input closes (used by dfget's one-shot agent).", Hidden = true };
var tls = TlsFlags.Create();

var root = new RootCommand("dfagent: the Dragonfly.PubSub client daemon. Receives artifacts announced on subscribed topics from the swarm, verifies every piece, serves pieces to other agents, and runs the local API used by dfpub and dfget (downloads by content id or by URL). An agent reads an origin only when the broker makes it a URL task's source; with --seed it is a seed peer, the preferred such source. "
    + "Container images: the registry mirror on --proxy-port (default 4001) serves the pull side of the OCI distribution API (/v2/: manifests passed through and verified, blobs from the swarm, one task per blob digest whatever the registry, the registry read once per swarm); registry credentials (basic auth, Bearer tokens) are passed through to the broker's seed only. Point containerd or Docker at it with 'dfagent init containerd|docker'. Blobs preheated with 'dfpub preheat' on a subscribed topic are kept in the content store only (not under --output-dir). "
    + "Security: every connection is TLS 1.3 with certificates of the fleet CA (the broker's). Enrol once with --join-token (a token from 'dfbroker token create --role agent'); the certificate lands in <data-dir>/tls and is renewed at two thirds of its lifetime. --tls-cert/--tls-key/--tls-ca use files of your own CA instead; --insecure (on every process of the fleet) turns TLS off. "
    + "Disk: --cache-size caps what the content store alone holds and --min-free keeps free space on its filesystem, by evicting least recently used content nothing needs ('dfagent gc [--dry-run]' collects now); a download that meets a full disk keeps its verified pieces and resumes once space returns. "
    + "Settings come from flags, then DFAGENT_* environment variables (DFAGENT_SEED, DFAGENT_REGISTRY_MIRROR, DFAGENT_S3_ENDPOINT, ...), then the --config file; S3 settings fall back to AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL.")
{
    config, broker, mqtt, dataDir, subscribe, outputDir, peerPort, proxyPort, registryMirror, httpPort, listen, advertise,
    downloadLimit, uploadLimit, inFlight, uploadSlots, cacheSize, minFree, cluster, zone, seed, s3Endpoint, s3Region, s3AccessKey, s3SecretKey, verbose,
    brokerHttp, apiListen, exitWithStdin, peerMaxConnections, peerMaxPerAddress, peerSendTimeout,
    allowRegistry, socketGroup, pieceNews,
};
tls.AddTo(root);

root.SetAction((parse, ct) => CliRunner.RunAsync("dfagent", parse.GetValue(verbose), async () =>
{
    var options = BuildOptions(new SettingSources(parse, parse.GetValue(config), "DFAGENT_")) with
    {
        SettleHeapAfterStart = !parse.GetValue(exitWithStdin),
    };
    using var stdinClosed = CancellationTokenSource.CreateLinkedTokenSource(ct);
    if (parse.GetValue(exitWithStdin))
    {
        _ = Task.Run(async () =>
        {
            await Console.OpenStandardInput().CopyToAsync(Stream.Null, stdinClosed.Token);
            await stdinClosed.CancelAsync();
        }, stdinClosed.Token);
    }
    return await AgentHost.RunAsync(options, parse.GetValue(verbose), stdinClosed.Token);
}));

// dfagent status
var statusDataDir = new Option<string>("--data-dir") { Description = "The agent's data dir.", DefaultValueFactory = _ => DragonflyClientOptions.DefaultDataDir };
var statusJson = new Option<bool>("--json") { Description = "Print the tasks as a JSON array." };
var status = new Command("status", "Show the agent's tasks: from the running daemon, or from its data dir when none runs.") { statusDataDir, statusJson };
status.SetAction((parse, ct) => CliRunner.RunAsync("dfagent", false, () => ShowStatusAsync(parse.GetValue(statusDataDir)!, parse.GetValue(statusJson), ct)));
root.Subcommands.Add(status);

// dfagent config validate FILE
var configFile = new Argument<string>("FILE") { Description = "The JSON config file to check." };
var validate = new Command("validate", "Check a config file: prints ok, or one line per problem (exit 2).") { configFile };
validate.SetAction(parse => ValidateConfig(parse.GetValue(configFile)!));
var configCommand = new Command("config", "Configuration tools.") { validate };
root.Subcommands.Add(configCommand);

// dfagent init containerd|docker
root.Subcommands.Add(InitCommands.Create());

// dfagent gc [--dry-run]
root.Subcommands.Add(GcCommand.Create());

return await CliRunner.InvokeAsync("dfagent", root, args);

AgentOptions BuildOptions(SettingSources s)
{
    var brokerText = s.String(broker) ?? throw UserFacingException.Usage("no broker given; pass --broker HOST[:PORT] (or set DFAGENT_BROKER)");
    // Several brokers: --broker a:8002,b:8002,c:8002; the first is the default host of MQTT and the HTTP API.
    var brokerList = HostPort.ParseList(brokerText, 8002, "--broker");
    var (brokerHost, brokerPort) = brokerList[0];
    var tlsSettings = tls.Read(s);
    var defaultMqttPort = tlsSettings.Insecure ? 1883 : 8883;
    var (mqttHost, mqttPort) = s.String(mqtt) is { } mqttText ? HostPort.Parse(mqttText, defaultMqttPort, "--mqtt") : (brokerHost, defaultMqttPort);
    var (brokerHttpHost, brokerHttpPort) = s.String(brokerHttp) is { } httpText ? HostPort.Parse(httpText, 8080, "--broker-http") : (brokerHost, 8080);
    var filters = s.List(subscribe);
    foreach (var filter in filters)
    {
        if (TopicName.ValidateFilter(filter) is { } error)
        {
            throw UserFacingException.Usage(error);
        }
    }
    var data = Path.GetFullPath(s.WithDefault(dataDir));
    var options = new AgentOptions
    {
        BrokerHost = brokerHost,
        BrokerGrpcPort = brokerPort,
        Brokers = brokerList.Count > 1 ? brokerList.Select(HostPort.Name).ToList() : [],
        MqttHost = mqttHost,
        MqttPort = mqttPort,
        BrokerHttpHost = brokerHttpHost,
        BrokerHttpPort = brokerHttpPort,
        Tls = tlsSettings,
        WatchRevocations = true,
        DataDir = data,
        Subscriptions = filters,
        OutputDir = Path.GetFullPath(s.String(outputDir) ?? Path.Combine(data, "downloads")),
        ListenAddress = s.WithDefault(listen),
        ApiListenAddress = s.WithDefault(apiListen),
        AdvertiseAddress = s.String(advertise) ?? "",
        PeerPort = Port(s.Int(peerPort), "--peer-port"),
        ProxyPort = s.Int(proxyPort) is -1 ? -1 : Port(s.Int(proxyPort), "--proxy-port"),
        RegistryMirror = s.String(registryMirror) is { } mirrorText ? RegistryUrl(mirrorText) : null,
        AllowedRegistries = RegistryAllowList(s.List(allowRegistry)),
        SocketGroup = s.String(socketGroup),
        HttpPort = s.Int(httpPort) is -1 ? -1 : Port(s.Int(httpPort), "--http-port"),
        DownloadLimit = Rate(s.String(downloadLimit), "--download-limit"),
        UploadLimit = Rate(s.String(uploadLimit), "--upload-limit"),
        CacheSize = GcCommand.ParseCacheSize(s.String(cacheSize)),
        MinFree = s.String(minFree) is { } floor ? FreeSpaceFloor.Parse(floor) : FreeSpaceFloor.None,
        PiecesInFlight = Positive(s.Int(inFlight), "--pieces-in-flight"),
        UploadSlots = Positive(s.Int(uploadSlots), "--upload-slots"),
        MaxPeerConnections = Positive(s.Int(peerMaxConnections), "--peer-max-connections"),
        MaxPeerConnectionsPerAddress = Positive(s.Int(peerMaxPerAddress), "--peer-max-connections-per-address"),
        PeerSendTimeout = TimeSpan.FromSeconds(Positive(s.Int(peerSendTimeout), "--peer-send-timeout")),
        Cluster = s.String(cluster) ?? "",
        Zone = s.String(zone) ?? "",
        Seed = s.Bool(seed),
        ParentPieceMaps = s.WithDefault(pieceNews) switch
        {
            "peer" => true,
            "broker" => false,
            var other => throw UserFacingException.Usage($"--piece-news '{other}' is neither 'peer' nor 'broker'"),
        },
        Origins = new OriginSettings
        {
            S3Endpoint = s.String(s3Endpoint) is { } endpoint
                ? Uri.TryCreate(endpoint, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
                    ? url
                    : throw UserFacingException.Usage($"--s3-endpoint '{endpoint}' is not an http:// or https:// URL")
                : null,
            S3Region = s.String(s3Region),
            S3AccessKey = s.String(s3AccessKey),
            S3SecretKey = s.String(s3SecretKey),
        },
    };
    AgentHost.ParseAddress(options.ListenAddress);
    AgentHost.CheckApiAddress(options);
    return options;
}

static int Port(int port, string flag) =>
    port is >= 0 and < 65536 ? port : throw UserFacingException.Usage($"{flag} {port} is not a port (0-65535; 0 picks a free one)");

static Uri RegistryUrl(string text) =>
    Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && url.UserInfo.Length == 0 && url.Query.Length == 0
        ? url
        : throw UserFacingException.Usage($"--registry-mirror {(text.Contains('@', StringComparison.Ordinal) ? "(not shown: it may hold credentials)" : $"'{text}'")} is not an http(s) registry URL without credentials or query; write e.g. https://registry-1.docker.io (clients pass credentials through the mirror)");

static IReadOnlyList<string> RegistryAllowList(string[] names)
{
    foreach (var name in names)
    {
        if (name != RegistryMirrorOptions.AnyRegistry && !ImageReference.IsValidRegistry(name))
        {
            throw UserFacingException.Usage($"--allow-registry '{name}' is not a registry HOST[:PORT] (e.g. docker.io or registry.example:5000), or '*' for any");
        }
    }
    return names;
}

static int Positive(int value, string flag) =>
    value > 0 ? value : throw UserFacingException.Usage($"{flag} must be at least 1");

static long Rate(string? text, string flag) => ByteSize.ParseRate(text, flag);

int ValidateConfig(string path)
{
    try
    {
        var file = SettingSources.LoadFile(path);
        var known = root.Options.Select(SettingSources.KeyOf).ToHashSet(StringComparer.Ordinal);
        var problems = file.EnumerateObject().Where(p => !known.Contains(p.Name))
            .Select(p => $"{path}: unknown key '{p.Name}'").ToList();
        if (problems.Count == 0)
        {
            try
            {
                BuildOptions(new SettingSources(root.Parse([]), path, "DFAGENT_CONFIG_VALIDATE_IGNORES_ENV_"));
            }
            catch (UserFacingException e)
            {
                problems.Add($"{path}: {e.Message}");
            }
        }
        foreach (var problem in problems)
        {
            Console.Error.WriteLine(problem);
        }
        if (problems.Count == 0)
        {
            Console.WriteLine("ok");
        }
        return problems.Count == 0 ? ExitCodes.Success : ExitCodes.Usage;
    }
    catch (UserFacingException e)
    {
        return CliRunner.Fail("dfagent", e.Message, e.ExitCode);
    }
}

static async Task<int> ShowStatusAsync(string dataDir, bool json, CancellationToken ct)
{
    IReadOnlyList<TaskInfo> tasks;
    string source;
    using (var client = new DragonflyClient(new DragonflyClientOptions { DataDir = dataDir }))
    {
        try
        {
            var agent = await client.GetStatusAsync(ct);
            tasks = await client.GetTasksAsync(ct);
            source = $"agent {agent.PeerId} (running; broker {agent.Broker} {(agent.BrokerConnected ? "connected" : "NOT connected")})";
        }
        catch (DragonflyClientException)
        {
            if (!File.Exists(Path.Combine(dataDir, "agent.db")))
            {
                throw new UserFacingException($"no agent data in {dataDir}; pass the --data-dir the agent uses");
            }
            using var store = AgentStore.Open(dataDir);
            tasks = store.All().Select(r => new TaskInfo
            {
                Digest = r.Id,
                Name = r.Name,
                Topic = r.Topic,
                State = r.State.ToString().ToLowerInvariant(),
                Size = r.Size,
                CompletedPieces = PieceBitmap.FromBytes(r.Bitmap ?? [], r.PieceCount).CountSet,
                TotalPieces = r.PieceCount,
                BytesFromPeers = r.BytesFromPeers,
                BytesFromSource = r.BytesFromSource,
                Path = r.OutputPath,
                Error = r.Error,
                ErrorKind = r.State == TaskState.Failed ? TaskErrorKinds.Name(r.ErrorKind) : null,
            }).ToList();
            source = $"agent {store.PeerId} (not running; read from {dataDir})";
        }
    }
    if (json)
    {
        Console.WriteLine(JsonSerializer.Serialize(tasks.ToList(), ClientJsonContext.Default.ListTaskInfo));
        return ExitCodes.Success;
    }
    Console.WriteLine(source);
    Console.WriteLine($"{"DIGEST",-19} {"STATE",-10} {"PROGRESS",8} {"SIZE",10}  TOPIC/NAME");
    foreach (var t in tasks)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{t.Digest[..Math.Min(19, t.Digest.Length)],-19} {t.State,-10} {t.Fraction * 100,7:0.0}% {ByteSize.Format(t.Size),10}  {t.Topic}/{t.Name}{(t.Error is null ? "" : "  error: " + t.Error)}"));
    }
    return ExitCodes.Success;
}
