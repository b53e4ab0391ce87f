// Dragonfly.PubSub quick start.
//
// Starts one broker and three agents as separate processes on free loopback ports, publishes a
// 64 MiB file from agent-1 to the topic quickstart/demo, and watches agent-2 and agent-3 (both
// subscribed to quickstart/#) fetch it piece by piece from agent-1 and from each other. Then it
// checks the SHA-256 of every copy, prints who sent what, stops every process and cleans up.
// Secure like a real fleet: the broker makes its CA, the agents enrol with a join token taken from
// it (dfbroker token create), and every connection is TLS 1.3 with certificates.
//
//   dotnet run -c Release --project examples/QuickStart

using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using QuickStart;

const string Topic = "quickstart/demo";
const string Subscription = "quickstart/#";
const string FileName = "demo.bin";
const long FileSize = 64L << 20;
var startTimeout = TimeSpan.FromSeconds(30);
var deliveryTimeout = TimeSpan.FromMinutes(2);

// Ctrl-C or SIGTERM cancels the run; the finally block at the end still stops every process.
using var cancellation = new CancellationTokenSource();
using var onCtrlC = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
using var onSigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
var cancel = cancellation.Token;

var root = Directory.CreateTempSubdirectory("dragonfly-quickstart-").FullName;
var started = new List<ChildProcess>(); // everything we start, stopped in the finally block
var agents = new List<RunningAgent>();
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };

try
{
    Console.WriteLine($"Working in {root}");

    // 1. The broker: MQTT over TLS for announcements, gRPC (HTTPS/2) for scheduling, HTTPS for the
    //    API, enrolment and metrics. Port 0 everywhere; the ports it bound are in <data-dir>/broker.json.
    var brokerDir = Path.Combine(root, "broker");
    var broker = Start("broker", Executable("broker/Dragonfly.PubSub.Broker", "dfbroker"),
        ["--data-dir", brokerDir, "--listen", "127.0.0.1", "--mqtts-port", "0", "--grpc-port", "0", "--http-port", "0", "--seed-port", "0"]);
    var brokerPorts = await broker.WaitForReadinessFileAsync<BrokerReady>(Path.Combine(brokerDir, "broker.json"), startTimeout, cancel);
    Console.WriteLine($"broker   pid {broker.Id,-7} mqtts :{brokerPorts.MqttsPort}  grpc :{brokerPorts.GrpcPort}  https :{brokerPorts.HttpPort}");
    using var brokerHttp = BrokerClient(Path.Combine(brokerDir, "tls", "ca.crt"));
    var brokerUrl = new Uri($"https://127.0.0.1:{brokerPorts.HttpPort}/");

    // A join token for the three agents, from the running broker (its admin socket); in a file, so
    // it does not show in the process list. Role agent,publisher: agent-1 publishes with dfpub, which
    // the broker allows only to the publisher role.
    var token = await RunToolAsync(Executable("broker/Dragonfly.PubSub.Broker", "dfbroker"),
        ["token", "create", "--role", "agent,publisher", "--uses", "3", "--ttl", "1h", "--data-dir", brokerDir]);
    var tokenFile = Path.Combine(root, "agent.token");
    File.WriteAllText(tokenFile, token + Environment.NewLine);
    if (!OperatingSystem.IsWindows())
    {
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    // 2. Three agents. agent-1 will publish; agent-2 and agent-3 subscribe to quickstart/#, so
    //    whatever is announced under quickstart/ lands in <output-dir>/<topic>/<name>.
    for (var i = 1; i <= 3; i++)
    {
        var name = $"agent-{i}";
        var dataDir = Path.Combine(root, name);
        var outputDir = Path.Combine(dataDir, "downloads");
        List<string> arguments =
        [
            "--broker", $"127.0.0.1:{brokerPorts.GrpcPort}", "--mqtt", $"127.0.0.1:{brokerPorts.MqttsPort}",
            "--broker-http", $"127.0.0.1:{brokerPorts.HttpPort}", "--token-file", tokenFile,
            "--data-dir", dataDir, "--output-dir", outputDir, "--listen", "127.0.0.1",
            "--peer-port", "0", "--proxy-port", "0", "--http-port", "0",
        ];
        var role = i == 1 ? "publisher" : "subscriber";
        if (role == "subscriber")
        {
            arguments.AddRange(["--subscribe", Subscription]);
        }
        var process = Start(name, Executable("agent/Dragonfly.PubSub.Agent", "dfagent"), arguments);
        var ready = await process.WaitForReadinessFileAsync<AgentReady>(Path.Combine(dataDir, "agent.json"), startTimeout, cancel);
        agents.Add(new RunningAgent(name, role, dataDir, outputDir, process, ready));
        Console.WriteLine($"{name,-8} pid {process.Id,-7} peer :{ready.PeerPort}  http :{ready.HttpPort}  {role}{(role == "subscriber" ? " of " + Subscription : "")}");
    }

    // An agent reports ready before it has reached the broker; wait until the broker knows all
    // three, and ask each agent for its tasks once (none yet) so that the API is known to answer.
    await WaitUntilAsync(async () => await LocalApi.GetMetricAsync(brokerHttp, brokerUrl, "dragonfly_broker_peers", cancel) >= agents.Count,
        startTimeout, "the agents did not register with the broker");
    await Task.WhenAll(agents.Select(a => LocalApi.GetTasksAsync(http, a.Ready.HttpPort, cancel)));

    // 3. A 64 MiB file of seeded random bytes, hashed as it is written.
    var file = Path.Combine(root, FileName);
    var expected = await WriteRandomFileAsync(file, FileSize, seed: 2024, cancel);
    Console.WriteLine($"\nPublishing {FileName} ({ByteSize.Format(FileSize)}, {expected}) to {Topic} from agent-1 ...\n");

    // 4. Publish through agent-1's daemon. dfpub prints the content id: the SHA-256 of the file.
    var clock = Stopwatch.StartNew();
    var publisher = agents[0];
    var digest = await RunDfpubAsync(["--topic", Topic, "--data-dir", publisher.DataDir, file]);
    if (digest != expected.ToString())
    {
        throw new InvalidOperationException($"dfpub announced {digest}, but the file's SHA-256 is {expected}");
    }

    // 5. Watch every agent's task for this digest until both subscribers have the whole file.
    var display = new ProgressDisplay();
    var subscribers = agents.Where(a => a.Role == "subscriber").ToList();
    var latest = new Dictionary<string, TaskInfo?>();
    while (true)
    {
        foreach (var agent in agents)
        {
            agent.Process.ThrowIfExited();
        }
        var polls = await Task.WhenAll(agents.Select(a => LocalApi.GetTasksAsync(http, a.Ready.HttpPort, cancel)));
        for (var i = 0; i < agents.Count; i++)
        {
            latest[agents[i].Name] = polls[i].FirstOrDefault(t => t.Digest == digest);
        }
        var done = subscribers.All(a => latest[a.Name]?.State == TaskStates.Succeeded);
        display.Draw([.. agents.Select(a => ProgressDisplay.Row(a, latest[a.Name]))], final: done);

        if (subscribers.FirstOrDefault(a => latest[a.Name]?.State == TaskStates.Failed) is { } failed)
        {
            throw new InvalidOperationException($"{failed.Name} failed to download {digest}: {latest[failed.Name]!.Error ?? failed.Process.LastLine()}");
        }
        if (done)
        {
            break;
        }
        if (clock.Elapsed > deliveryTimeout)
        {
            throw new TimeoutException($"the subscribers did not finish within {deliveryTimeout.TotalSeconds:0} s");
        }
        await Task.Delay(200, cancel);
    }
    var elapsed = clock.Elapsed;

    // 6. Every subscriber's copy must hash to the content id.
    Console.WriteLine();
    foreach (var agent in subscribers)
    {
        var copy = Path.Combine(agent.OutputDir, Topic, FileName);
        var actual = await HashFileAsync(copy, cancel);
        if (actual != expected)
        {
            throw new InvalidOperationException($"{agent.Name}'s copy {copy} has {actual}, expected {expected}");
        }
        Console.WriteLine($"{agent.Name,-8} verified {copy}");
    }

    // 7. Who sent what: bytes each agent got from peers (its task) and uploaded (its metrics).
    Console.WriteLine($"\nDelivered {ByteSize.Format(FileSize)} to {subscribers.Count} subscribers in {elapsed.TotalSeconds:0.00} s (from dfpub start until both agents had verified the file).");
    foreach (var agent in agents)
    {
        var uploaded = await LocalApi.GetMetricAsync(http, new Uri($"http://127.0.0.1:{agent.Ready.HttpPort}/"), "dragonfly_agent_upload_bytes_total", cancel);
        var received = latest[agent.Name]?.BytesFromPeers ?? 0;
        Console.WriteLine($"  {agent.Name,-8} {agent.Role,-10} got {ByteSize.Format(received),10} from peers, uploaded {ByteSize.Format((long)uploaded),10}");
    }
    Console.WriteLine("\nQuick start succeeded.");
    return 0;
}
catch (Exception) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("quickstart: interrupted; stopping every process.");
    return 1;
}
catch (Exception e)
{
    Console.Error.WriteLine($"quickstart failed: {e.Message}");
    return 1;
}
finally
{
    // In reverse order: the agents (they may tell the broker goodbye), then the broker.
    // Each gets SIGTERM, and is killed if it has not exited 10 s later.
    foreach (var child in Enumerable.Reverse(started))
    {
        await child.DisposeAsync();
    }
    try
    {
        Directory.Delete(root, recursive: true);
    }
    catch (IOException e)
    {
        Console.Error.WriteLine($"quickstart: could not remove {root}: {e.Message}");
    }
}

void Cancel(PosixSignalContext context)
{
    context.Cancel = true; // we stop on our own terms, through the finally block
    cancellation.Cancel();
}

ChildProcess Start(string name, string executable, IEnumerable<string> arguments)
{
    var child = ChildProcess.Start(name, executable, arguments);
    started.Add(child);
    return child;
}

// The executables are built next to their projects (see QuickStart.csproj); RepoRoot and
// Configuration are stamped into this assembly at build time.
static string Executable(string project, string name)
{
    var build = typeof(ChildProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .ToDictionary(a => a.Key, a => a.Value ?? "");
    var extension = OperatingSystem.IsWindows() ? ".exe" : "";
    return Path.Combine(build["RepoRoot"], project, "bin", build["Configuration"], "net10.0", name + extension);
}

async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string failure)
{
    var deadline = Stopwatch.StartNew();
    while (!await condition())
    {
        if (deadline.Elapsed > timeout)
        {
            throw new TimeoutException($"{failure} within {timeout.TotalSeconds:0} s");
        }
        await Task.Delay(100, cancel);
    }
}

Task<string> RunDfpubAsync(IEnumerable<string> arguments) => RunToolAsync(Executable("agent/Dragonfly.PubSub.Publish", "dfpub"), arguments);

// Runs a CLI to its end; returns the last line of its stdout.
async Task<string> RunToolAsync(string executable, IEnumerable<string> arguments)
{
    var info = new ProcessStartInfo(executable)
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    };
    foreach (var argument in arguments)
    {
        info.ArgumentList.Add(argument);
    }
    using var dfpub = Process.Start(info)!;
    var stdout = dfpub.StandardOutput.ReadToEndAsync(cancel);
    var stderr = dfpub.StandardError.ReadToEndAsync(cancel);
    await dfpub.WaitForExitAsync(cancel);
    if (dfpub.ExitCode != 0)
    {
        throw new InvalidOperationException($"{Path.GetFileName(executable)} exited with code {dfpub.ExitCode}: {(await stderr).Trim()}");
    }
    return (await stdout).Trim().Split('\n')[^1].Trim();
}

// The broker's HTTPS API, trusting only the CA the broker made (no system roots).
static HttpClient BrokerClient(string caFile)
{
    var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
    var handler = new HttpClientHandler
    {
        ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            return certificate is not null && chain.Build(certificate);
        },
    };
    return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
}

static async Task<ContentDigest> WriteRandomFileAsync(string path, long size, int seed, CancellationToken cancel)
{
    var random = new Random(seed);
    using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    var buffer = new byte[1 << 20];
    await using var stream = File.Create(path);
    for (long written = 0; written < size; written += buffer.Length)
    {
        var chunk = buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written));
        random.NextBytes(chunk.Span);
        sha.AppendData(chunk.Span);
        await stream.WriteAsync(chunk, cancel);
    }
    return ContentDigest.FromHash(sha.GetHashAndReset());
}

static async Task<ContentDigest> HashFileAsync(string path, CancellationToken cancel)
{
    await using var stream = File.OpenRead(path);
    return ContentDigest.FromHash(await SHA256.HashDataAsync(stream, cancel));
}
