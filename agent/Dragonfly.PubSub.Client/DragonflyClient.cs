using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Client;

/// <summary>
/// The .NET SDK of Dragonfly.PubSub: publish files, download by content id, watch tasks. It speaks
/// HTTP to the local <c>dfagent</c> over its unix socket, so it needs no ports and no credentials.
/// </summary>
public sealed class DragonflyClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly DragonflyClientOptions _options;

    public DragonflyClient(DragonflyClientOptions? options = null)
    {
        _options = options ?? new DragonflyClientOptions();
        var socketPath = _options.SocketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://dfagent/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public Task<AgentStatus> GetStatusAsync(CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, "api/v1/status"), ClientJsonContext.Default.AgentStatus, cancellationToken);

    public async Task<IReadOnlyList<TaskInfo>> GetTasksAsync(CancellationToken cancellationToken = default) =>
        await SendAsync(new HttpRequestMessage(HttpMethod.Get, "api/v1/tasks"), ClientJsonContext.Default.ListTaskInfo, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Publishes on <see cref="PublishRequest.Topic"/>: imports <see cref="PublishRequest.Path"/> into
    /// the agent, or registers <see cref="PublishRequest.Url"/> as a URL task, and announces it.
    /// </summary>
    /// <exception cref="DragonflyClientException">Bad input (kind usage), no agent, or a failure.</exception>
    public Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (TopicName.ValidateTopic(request.Topic) is { } topicError)
        {
            throw new DragonflyClientException(topicError, ApiError.Usage);
        }
        if (request.Name is not null && ArtifactName.Validate(request.Name) is { } nameError)
        {
            throw new DragonflyClientException(nameError, ApiError.Usage);
        }
        if ((request.Path is null) == (request.Url is null))
        {
            throw new DragonflyClientException("give either a file path or a URL to publish, not both", ApiError.Usage);
        }
        if (request.Url is not null)
        {
            CheckUrlRequest(request.Url, request.Headers, request.Digest);
        }
        var body = request.Path is null ? request : request with { Path = System.IO.Path.GetFullPath(request.Path) };
        var message = new HttpRequestMessage(HttpMethod.Post, "api/v1/publish")
        {
            Content = JsonContent.Create(body, ClientJsonContext.Default.PublishRequest),
        };
        return SendAsync(message, ClientJsonContext.Default.PublishResult, cancellationToken);
    }

    /// <summary>Announces the object at <paramref name="url"/> on <paramref name="topic"/> as a URL task; returns its task id.</summary>
    public Task<PublishResult> PublishUrlAsync(string url, string topic, CancellationToken cancellationToken = default) =>
        PublishAsync(new PublishRequest { Url = url, Topic = topic }, cancellationToken);

    /// <summary>
    /// Downloads <paramref name="digest"/> through the swarm into <paramref name="outputPath"/>, reporting
    /// progress as the agent makes it. The file appears only once complete and verified.
    /// </summary>
    public Task<TaskInfo> DownloadAsync(string digest, string outputPath, IProgress<TaskInfo>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        return DownloadAsync(new DownloadRequest { Digest = digest, Output = outputPath }, progress, cancellationToken);
    }

    /// <summary>
    /// Downloads the object at <paramref name="url"/> through the swarm (its origin is read once per
    /// swarm, by a seed or one agent) into <paramref name="outputPath"/>. The file appears only once
    /// complete and verified.
    /// </summary>
    public Task<TaskInfo> DownloadUrlAsync(string url, string outputPath, IProgress<TaskInfo>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        return DownloadAsync(new DownloadRequest { Url = url, Output = outputPath }, progress, cancellationToken);
    }

    /// <summary>
    /// Downloads by content id or by URL (<see cref="DownloadRequest"/>), reporting each snapshot the
    /// agent sends; returns the final one. The output file appears only once complete and verified.
    /// </summary>
    /// <exception cref="DragonflyClientException">Bad input (kind usage), no agent, or the download failed.</exception>
    public async Task<TaskInfo> DownloadAsync(DownloadRequest request, IProgress<TaskInfo>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.Output);
        string what;
        if (request.Url is null)
        {
            if (!ContentDigest.TryParse(request.Digest, out _))
            {
                throw new DragonflyClientException($"'{request.Digest}' is not a content id; expected sha256: followed by 64 lowercase hex digits", ApiError.Usage);
            }
            what = request.Digest!;
        }
        else
        {
            what = CheckUrlRequest(request.Url, request.Headers, request.Digest);
        }
        if (request.Limit is <= 0)
        {
            throw new DragonflyClientException("the download limit must be a positive number of bytes per second", ApiError.Usage);
        }
        var message = new HttpRequestMessage(HttpMethod.Post, "api/v1/download")
        {
            Content = JsonContent.Create(request with { Output = System.IO.Path.GetFullPath(request.Output) }, ClientJsonContext.Default.DownloadRequest),
        };
        // The agent answers with a stream of snapshots (one JSON object per line); the last is final.
        TaskInfo? task = null;
        await foreach (var update in ReadLinesAsync(message, cancellationToken).ConfigureAwait(false))
        {
            task = update;
            progress?.Report(task);
            if (task.IsFinished)
            {
                break;
            }
        }
        if (task is not { IsFinished: true })
        {
            throw new DragonflyClientException($"the agent stopped answering before the download of {what} finished; see its log", ApiError.Failed);
        }
        if (task.State == TaskStates.Failed)
        {
            var error = task.Error ?? "unknown error";
            // Errors about a URL usually name it already.
            throw new DragonflyClientException(error.Contains(what, StringComparison.Ordinal) ? error : $"download of {what} failed: {error}", ApiError.Failed);
        }
        return task;
    }

    /// <summary>Checks what the SDK can check of a URL request; returns the URL as messages may show it (no query, no user info).</summary>
    private static string CheckUrlRequest(string url, IReadOnlyList<string>? headers, string? expectedDigest)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme.Length == 0)
        {
            throw new DragonflyClientException("the URL is not an absolute URL; expected http://, https://, ftp://, s3://bucket/key or file:///path", ApiError.Usage);
        }
        foreach (var header in headers ?? [])
        {
            var colon = header.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || header[..colon].Trim().Length == 0 || header[..colon].Trim().Any(c => c <= ' ' || c >= 127))
            {
                // The value may be a secret: never echo it.
                throw new DragonflyClientException($"header '{(colon > 0 ? header[..colon] : "...")}' is malformed; write 'Name: value'", ApiError.Usage);
            }
        }
        if (expectedDigest is not null && !ContentDigest.TryParse(expectedDigest, out _))
        {
            throw new DragonflyClientException($"--digest '{expectedDigest}' is not a content id; expected sha256: followed by 64 lowercase hex digits", ApiError.Usage);
        }
        return WithoutQuery(parsed);
    }

    /// <summary>scheme://host/path: what messages may show of a URL (no user info, query or fragment).</summary>
    public static string WithoutQuery(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return url.IsAbsoluteUri ? $"{url.Scheme}://{url.Authority}{url.AbsolutePath}" : url.OriginalString.Split('?', '#')[0];
    }

    /// <summary>
    /// Task snapshots as they change (the current state first), of one task or of all. Ends when the
    /// agent closes the stream or <paramref name="cancellationToken"/> fires.
    /// </summary>
    public IAsyncEnumerable<TaskInfo> WatchTasksAsync(string? digest = null, CancellationToken cancellationToken = default)
    {
        if (digest is not null && !ContentDigest.TryParse(digest, out _))
        {
            throw new DragonflyClientException($"'{digest}' is not a content id", ApiError.Usage);
        }
        return WatchCore(digest, cancellationToken);
    }

    private IAsyncEnumerable<TaskInfo> WatchCore(string? digest, CancellationToken cancellationToken)
    {
        var uri = digest is null ? "api/v1/events" : $"api/v1/events?digest={Uri.EscapeDataString(digest)}";
        return ReadLinesAsync(new HttpRequestMessage(HttpMethod.Get, uri), cancellationToken);
    }

    /// <summary>Sends <paramref name="request"/> and yields each NDJSON line of the answer as it arrives.</summary>
    private async IAsyncEnumerable<TaskInfo> ReadLinesAsync(HttpRequestMessage request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream);
        while (await ReadLineAsync(reader, cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }
            var info = JsonSerializer.Deserialize(line, ClientJsonContext.Default.TaskInfo);
            if (info is not null)
            {
                yield return info;
            }
        }
    }

    /// <summary>
    /// Runs the agent's cache collection now (<c>dfagent gc</c>): evicts least recently used content
    /// nothing needs until the cache fits its size and the disk its free-space floor.
    /// </summary>
    /// <param name="dryRun">Only report what would be evicted.</param>
    /// <param name="cacheSize">A size to trim to this once instead of the agent's <c>--cache-size</c>; null = the agent's.</param>
    /// <exception cref="DragonflyClientException">No agent, or it refused.</exception>
    public Task<CacheReport> CollectGarbageAsync(bool dryRun, long? cacheSize = null, CancellationToken cancellationToken = default)
    {
        if (cacheSize is < 0)
        {
            throw new DragonflyClientException("the cache size must be 0 or more bytes", ApiError.Usage);
        }
        var query = $"api/v1/gc?dryRun={(dryRun ? "true" : "false")}"
            + (cacheSize is { } size ? $"&cacheSize={size.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "");
        return SendAsync(new HttpRequestMessage(HttpMethod.Post, query), ClientJsonContext.Default.CacheReport, cancellationToken);
    }

    private async Task<string?> ReadLineAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DragonflyClientException($"the agent at {_options.DataDir} stopped answering (did it exit?); see its log", ApiError.Failed, e);
        }
    }

    private async Task<T> SendAsync<T>(HttpRequestMessage request, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var value = await response.Content.ReadFromJsonAsync(typeInfo, cancellationToken).ConfigureAwait(false);
        return value ?? throw new DragonflyClientException($"the agent sent an empty answer to {request.RequestUri}", ApiError.Failed);
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException or IOException || e.HttpRequestError == HttpRequestError.ConnectionError)
        {
            throw new DragonflyClientException(
                $"no dfagent is running at {_options.DataDir} (socket {_options.SocketPath}); start one with 'dfagent --broker HOST --data-dir {_options.DataDir}' or pass the right --data-dir",
                ApiError.Unreachable, e);
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            ApiError? error = null;
            try
            {
                error = await response.Content.ReadFromJsonAsync(ClientJsonContext.Default.ApiError, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException)
            {
                // Not our JSON: fall through to the status line.
            }
            throw new DragonflyClientException(
                error?.Error ?? $"the agent answered {(int)response.StatusCode} {response.ReasonPhrase}",
                error?.Kind ?? (response.StatusCode == HttpStatusCode.NotFound ? ApiError.NotFound : ApiError.Failed));
        }
    }

    public void Dispose() => _http.Dispose();
}
