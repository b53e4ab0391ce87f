using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Dragonfly.PubSub.Client;

namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>
/// An agent's <c>GET /api/v1/events?digest=</c> (NDJSON of task snapshots as they change), on its
/// unix socket: the agent serves that endpoint only there. The request is sent at once but not
/// awaited: the agent sends no response headers before its first event, so a caller cannot wait
/// for "attached" without a deadlock.
/// </summary>
internal sealed class TaskEventStream : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<HttpResponseMessage> _response;

    public TaskEventStream(string socketPath, string digest)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancel);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _response = _http.GetAsync($"http://localhost/api/v1/events?digest={Uri.EscapeDataString(digest)}",
            HttpCompletionOption.ResponseHeadersRead, _stop.Token);
    }

    public async IAsyncEnumerable<TaskInfo> ReadAllAsync([EnumeratorCancellation] CancellationToken cancel)
    {
        using var response = await _response.WaitAsync(cancel);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel));
        while (await reader.ReadLineAsync(cancel) is { } line)
        {
            if (line.Length > 0 && JsonSerializer.Deserialize<TaskInfo>(line, Json) is { } info)
            {
                yield return info;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            (await _response).Dispose();
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException)
        {
            // The request never got an answer; nothing to release.
        }
        _stop.Dispose();
        _http.Dispose();
    }
}
