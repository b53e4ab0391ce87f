using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Dragonfly.PubSub.Client.Preheat;

/// <summary>
/// The broker's HTTP API for preheating container images (<c>POST /api/v1/preheat</c>,
/// <c>GET /api/v1/preheat/{id}</c>). Unlike <see cref="DragonflyClient"/> it talks to the broker
/// directly (default port 8080), not to a local agent.
/// </summary>
public sealed class BrokerClient : IDisposable
{
    public static readonly Uri DefaultUrl = new("http://127.0.0.1:8080/");

    private readonly HttpClient _http;
    private readonly bool _ownsHandler;

    /// <param name="brokerUrl">The broker's HTTP API, e.g. http://broker:8080.</param>
    /// <param name="handler">The HTTP handler to use (owned by the caller); null: a new one.</param>
    public BrokerClient(Uri brokerUrl, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(brokerUrl);
        if (!brokerUrl.IsAbsoluteUri || brokerUrl.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"the broker URL must be an absolute http(s) URL, not '{brokerUrl}'", nameof(brokerUrl));
        }
        BrokerUrl = brokerUrl.AbsoluteUri.EndsWith('/') ? brokerUrl : new Uri(brokerUrl.AbsoluteUri + "/");
        _ownsHandler = handler is null;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }, disposeHandler: _ownsHandler)
        {
            BaseAddress = BrokerUrl,
            Timeout = TimeSpan.FromMinutes(2),
        };
    }

    public Uri BrokerUrl { get; }

    /// <summary>Starts a preheat job; returns it as the broker first reports it (at least its id).</summary>
    /// <exception cref="DragonflyClientException">The broker refused the request (kind usage), or cannot be reached or failed.</exception>
    public async Task<PreheatJob> StartPreheatAsync(PreheatRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var message = new HttpRequestMessage(HttpMethod.Post, "api/v1/preheat")
        {
            Content = JsonContent.Create(request, BrokerJsonContext.Default.PreheatRequest),
        };
        var job = await SendAsync(message, cancellationToken).ConfigureAwait(false);
        return string.IsNullOrEmpty(job.Id)
            ? throw new DragonflyClientException($"the broker at {BrokerUrl} answered the preheat request without a job id", ApiError.Failed)
            : job;
    }

    /// <exception cref="DragonflyClientException">No such job (kind not-found), or the broker cannot be reached or failed.</exception>
    public async Task<PreheatJob> GetPreheatAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        using var message = new HttpRequestMessage(HttpMethod.Get, $"api/v1/preheat/{Uri.EscapeDataString(id)}");
        return await SendAsync(message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Polls the job until it succeeded or failed, reporting every snapshot; returns the final one
    /// (also when it failed: see <see cref="PreheatJob.State"/> and <see cref="PreheatJob.Error"/>).
    /// </summary>
    public async Task<PreheatJob> WaitForPreheatAsync(string id, IProgress<PreheatJob>? progress = null, TimeSpan? pollInterval = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        var interval = pollInterval ?? TimeSpan.FromMilliseconds(500);
        while (true)
        {
            var job = await GetPreheatAsync(id, cancellationToken).ConfigureAwait(false);
            progress?.Report(job);
            if (job.IsFinished)
            {
                return job;
            }
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<PreheatJob> SendAsync(HttpRequestMessage message, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new DragonflyClientException($"the broker at {BrokerUrl} cannot be reached ({e.Message.TrimEnd('.')}); check --broker-url and that dfbroker runs", ApiError.Unreachable, e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DragonflyClientException($"the broker at {BrokerUrl} did not answer within {_http.Timeout.TotalSeconds:0} s", ApiError.Failed, e);
        }
        using (response)
        {
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var detail = ErrorOf(body) ?? $"the broker answered {(int)response.StatusCode} {response.ReasonPhrase}";
                throw new DragonflyClientException(detail, response.StatusCode switch
                {
                    HttpStatusCode.BadRequest => ApiError.Usage,
                    HttpStatusCode.NotFound => ApiError.NotFound,
                    _ => ApiError.Failed,
                });
            }
            try
            {
                return JsonSerializer.Deserialize(body, BrokerJsonContext.Default.PreheatJob)
                    ?? throw new JsonException("null");
            }
            catch (JsonException e)
            {
                throw new DragonflyClientException($"the broker at {BrokerUrl} answered {message.RequestUri} with something that is not a preheat job ({e.Message})", ApiError.Failed, e);
            }
        }
    }

    /// <summary>The <c>error</c> of a JSON error body, if that is what it is.</summary>
    private static string? ErrorOf(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String
                ? error.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public void Dispose() => _http.Dispose();
}
