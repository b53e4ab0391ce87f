using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Client.CommandLine;
using Dragonfly.PubSub.Client.Preheat;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;

namespace Dragonfly.PubSub.Publish.Preheat;

/// <summary>
/// <c>dfpub preheat IMAGE_REF --topic T --platform os/arch[,...]|all</c>: asks the broker (its HTTP
/// API, directly) to resolve the image and announce its blobs on the topic, then follows the job.
/// </summary>
internal static class PreheatCommand
{
    private const string Program = "dfpub";
    private const string BrokerUrlVariable = "DFPUB_BROKER_URL";

    public static Command Create()
    {
        var image = new Argument<string>("IMAGE_REF") { Description = "The image: [registry[:port]/]repository[:tag][@sha256:<hex>], e.g. registry.example.com/team/app:1.4 (no registry = docker.io, no tag = latest)." };
        var topic = new Option<string?>("--topic", "-t") { Description = "Topic to announce the blobs on; every agent subscribed to it prefetches them into its cache (no wildcards)." };
        var platforms = new Option<string[]>("--platform", "-p") { Description = "Required: os/arch[/variant], a comma list of them (linux/amd64,linux/arm64), or all. Never defaults to the broker's own platform.", Arity = ArgumentArity.ZeroOrMore };
        var brokerUrl = new Option<string?>("--broker-url") { Description = $"The broker's HTTP API (default: ${BrokerUrlVariable}, else {BrokerClient.DefaultUrl.GetLeftPart(UriPartial.Authority)})." };
        var wait = new Option<bool>("--wait") { Description = "Wait until every blob is fetched and announced (the default); progress per blob on a terminal." };
        var noWait = new Option<bool>("--no-wait") { Description = "Print the job id and return at once; follow it with GET /api/v1/preheat/<id>." };
        var timeout = new Option<string?>("--timeout") { Description = "Stop waiting after this long, e.g. 90s, 10m, 1h (exit 1; the job goes on). Default: no limit." };
        var json = new Option<bool>("--json") { Description = "Print the job as JSON (the final state when waiting) instead of its id." };
        var verbose = new Option<bool>("--verbose") { Description = "Show details (stack traces) on errors." };
        var dataDir = new Option<string>("--data-dir") { Description = "The enrolled agent whose certificate (<data-dir>/tls) authenticates to the broker's HTTPS API.", DefaultValueFactory = _ => DragonflyClientOptions.DefaultDataDir };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "PEM client certificate instead of the agent's (with --tls-key and --tls-ca)." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "PEM private key of --tls-cert." };
        var tlsCa = new Option<string?>("--tls-ca") { Description = "PEM CA certificate(s) to trust for the broker (default: <data-dir>/tls/ca.crt)." };
        var insecure = new Option<bool>("--insecure") { Description = "The broker runs without TLS (dfbroker --insecure): plain HTTP, no certificates." };
        var command = new Command("preheat",
            "Preheat a container image into every agent subscribed to a topic. The broker resolves the image (tag → index → the "
            + "manifests of the requested platforms), its seed fetches each config and layer blob from the registry once, and the "
            + "blobs are announced on the topic; subscribed agents in every cluster prefetch them into their content store, so that "
            + "pulls through their registry mirror (dfagent --proxy-port) are served from the swarm. Prints the job id, then waits "
            + "for the job: exit 0 when it succeeded, 1 when it failed (with the job's error), 2 for bad input (a malformed "
            + "reference, a missing --platform, a bad topic, a platform the image does not have). The registry is read with the "
            + "broker's own registry credentials (its config), never with any from this machine.")
        {
            image, topic, platforms, brokerUrl, wait, noWait, timeout, json, verbose, dataDir, tlsCert, tlsKey, tlsCa, insecure,
        };
        command.SetAction((parse, ct) => CliRunner.RunAsync(Program, parse.GetValue(verbose), () => RunAsync(new Settings(
            parse.GetValue(image)!,
            parse.GetValue(topic),
            parse.GetValue(platforms) ?? [],
            parse.GetValue(brokerUrl),
            parse.GetValue(wait),
            parse.GetValue(noWait),
            parse.GetValue(timeout),
            parse.GetValue(json),
            new TlsSettings(parse.GetValue(dataDir)!, parse.GetValue(tlsCert), parse.GetValue(tlsKey), parse.GetValue(tlsCa), parse.GetValue(insecure))), ct)));
        return command;
    }

    private static async Task<int> RunAsync(Settings settings, CancellationToken ct)
    {
        var request = BuildRequest(settings);
        if (settings.Wait && settings.NoWait)
        {
            throw UserFacingException.Usage("--wait and --no-wait contradict each other; give one");
        }
        var limit = settings.Timeout is { } text ? CliDurations.Parse(text, "--timeout") : (TimeSpan?)null;
        if (settings.Tls.Insecure && (settings.Tls.Cert ?? settings.Tls.Key ?? settings.Tls.Ca) is not null)
        {
            throw UserFacingException.Usage("--insecure turns TLS off; drop it, or drop --tls-cert/--tls-key/--tls-ca");
        }
        if ((settings.Tls.Cert is null) != (settings.Tls.Key is null))
        {
            throw UserFacingException.Usage("--tls-cert and --tls-key go together; give both");
        }
        var url = BrokerUrl(settings.BrokerUrl, settings.Tls.Insecure);
        using var handler = BrokerTls.Handler(url, settings.Tls.DataDir, settings.Tls.Cert, settings.Tls.Key, settings.Tls.Ca);
        using var client = new BrokerClient(url, handler);

        var job = await client.StartPreheatAsync(request, ct);
        if (settings.NoWait)
        {
            Console.WriteLine(settings.Json ? JsonSerializer.Serialize(job, BrokerJsonContext.Default.PreheatJob) : job.Id);
            return ExitCodes.Success;
        }
        if (!settings.Json)
        {
            Console.WriteLine(job.Id);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (limit is { } after)
        {
            deadline.CancelAfter(after);
        }
        var printer = new ProgressPrinter(enabled: !Console.IsErrorRedirected);
        PreheatJob final;
        try
        {
            final = await client.WaitForPreheatAsync(job.Id, printer, cancellationToken: deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new UserFacingException($"preheat {job.Id} did not finish within {settings.Timeout}; it goes on at the broker (GET {client.BrokerUrl}api/v1/preheat/{job.Id})");
        }
        if (settings.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(final, BrokerJsonContext.Default.PreheatJob));
        }
        if (final.State == PreheatStates.Succeeded)
        {
            printer.Done(final);
            return ExitCodes.Success;
        }
        var failedBlob = final.Blobs.FirstOrDefault(b => b.State == PreheatStates.Failed && b.Error is not null);
        var error = final.Error ?? (failedBlob is null ? "the broker gave no reason" : $"blob {failedBlob.Digest}: {failedBlob.Error}");
        throw new UserFacingException($"preheat {final.Id} of {request.Image} failed: {error}");
    }

    /// <summary>Checks everything that can be checked here, before the broker is asked.</summary>
    private static PreheatRequest BuildRequest(Settings settings)
    {
        if (!ImageReference.TryParse(settings.Image.Trim(), out var reference, out var referenceError))
        {
            throw UserFacingException.Usage(referenceError);
        }
        if (settings.Topic is null)
        {
            throw UserFacingException.Usage("give the topic whose subscribers get the image: --topic TOPIC");
        }
        if (TopicName.ValidateTopic(settings.Topic) is { } topicError)
        {
            throw UserFacingException.Usage(topicError);
        }
        PlatformSelector selector;
        try
        {
            selector = PlatformSelector.Parse(settings.Platforms);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw UserFacingException.Usage(e.Message);
        }
        return new PreheatRequest
        {
            Image = reference.ToString(),
            Platforms = selector.All ? [PlatformSelector.AllKeyword] : [.. selector.Platforms.Select(p => p.ToString())],
            Topic = settings.Topic,
        };
    }

    /// <summary>The broker URL; HOST:PORT and the default are https (http with --insecure).</summary>
    private static Uri BrokerUrl(string? flag, bool insecure)
    {
        var scheme = insecure ? "http" : "https";
        var (text, from) = flag is not null ? (flag, "--broker-url")
            : Environment.GetEnvironmentVariable(BrokerUrlVariable) is { Length: > 0 } env ? (env, BrokerUrlVariable)
            : ($"{scheme}://{BrokerClient.DefaultUrl.Authority}/", "the default broker URL");
        text = text.Trim();
        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = $"{scheme}://" + text; // HOST:PORT
        }
        return Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && url.Host.Length > 0
            ? url
            : throw UserFacingException.Usage($"{from} '{text}' is not an http(s) URL; write e.g. http://broker:8080");
    }

    private sealed record Settings(string Image, string? Topic, string[] Platforms, string? BrokerUrl, bool Wait, bool NoWait, string? Timeout, bool Json, TlsSettings Tls);

    private sealed record TlsSettings(string DataDir, string? Cert, string? Key, string? Ca, bool Insecure);

    /// <summary>On a terminal (stderr), one line whenever the job or one of its blobs changes state.</summary>
    private sealed class ProgressPrinter(bool enabled) : IProgress<PreheatJob>
    {
        private readonly Dictionary<string, string> _blobStates = new(StringComparer.Ordinal);
        private string? _jobState;

        public void Report(PreheatJob value)
        {
            if (!enabled)
            {
                return;
            }
            if (value.State != _jobState)
            {
                _jobState = value.State;
                Console.Error.WriteLine($"preheat {value.Id} {value.Image} [{string.Join(',', value.Platforms)}] → {value.Topic}: {value.State}");
            }
            foreach (var blob in value.Blobs)
            {
                if (_blobStates.TryGetValue(blob.Digest, out var state) && state == blob.State)
                {
                    continue;
                }
                _blobStates[blob.Digest] = blob.State;
                var digest = blob.Digest.Length > 19 ? blob.Digest[..19] + "…" : blob.Digest;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {digest} {Kind(blob.MediaType),-8} {ByteSize.Format(blob.Size),10}  {string.Join(',', blob.Platforms),-24} {blob.State}{(blob.Error is null ? "" : ": " + blob.Error)}"));
            }
        }

        public void Done(PreheatJob job)
        {
            if (enabled)
            {
                Console.Error.WriteLine($"preheated {job.Blobs.Count} blobs ({ByteSize.Format(job.Blobs.Sum(b => b.Size))}) of {job.Image} on topic {job.Topic}");
            }
        }

        private static string Kind(string mediaType) =>
            mediaType.Contains("config", StringComparison.Ordinal) ? "config"
            : mediaType.Contains("layer", StringComparison.Ordinal) || mediaType.Contains("rootfs", StringComparison.Ordinal) ? "layer"
            : mediaType.Contains("manifest", StringComparison.Ordinal) || mediaType.Contains("index", StringComparison.Ordinal) ? "manifest"
            : "blob";
    }
}
