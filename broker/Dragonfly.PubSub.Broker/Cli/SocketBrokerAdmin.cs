using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Broker.Cli;

/// <summary>The running broker, over its admin unix socket.</summary>
internal sealed class SocketBrokerAdmin : IBrokerAdmin
{
    private readonly HttpClient _http;

    private SocketBrokerAdmin(HttpClient http) => _http = http;

    /// <summary>Connects to the socket; null when no broker listens there (no socket, or a stale one).</summary>
    public static async Task<SocketBrokerAdmin?> TryConnectAsync(string socketPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(socketPath))
        {
            return null;
        }
        var endPoint = new UnixDomainSocketEndPoint(socketPath);
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                await probe.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                return null;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
            {
                throw new UserFacingException($"cannot use the broker's admin socket {socketPath}: permission denied; run as the broker's user (or root)", ExitCodes.Failed, e);
            }
        }
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new SocketBrokerAdmin(new HttpClient(handler) { BaseAddress = new Uri("http://dfbroker/"), Timeout = TimeSpan.FromSeconds(30) });
    }

    public async Task<TokenCreated> CreateTokenAsync(TokenRequest request, CancellationToken cancellationToken)
    {
        var body = new TokenRequestBody(
            Dragonfly.PubSub.Security.PeerRoles.Names(request.Roles),
            request.Topics,
            request.Ttl.TotalSeconds,
            request.Uses,
            ApiScopes.Names(request.Scopes));
        using var content = new StringContent(JsonSerializer.Serialize(body, AdminJsonContext.Default.TokenRequestBody), System.Text.Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(AdminApi.TokensPath, content, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, SecurityJsonContext.Default.TokenCreated, cancellationToken).ConfigureAwait(false);
    }

    public Task<RevokeResult> RevokeTokenAsync(string id, CancellationToken cancellationToken) => PostAsync(AdminApi.RevokeTokenPath(id), cancellationToken);

    public Task<RevokeResult> RevokePeerAsync(string peerId, CancellationToken cancellationToken) => PostAsync(AdminApi.RevokePeerPath(peerId), cancellationToken);

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<RevokeResult> PostAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync(path, content: null, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, SecurityJsonContext.Default.RevokeResult, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var error = await response.Content.ReadFromJsonAsync(SecurityJsonContext.Default.ApiError, cancellationToken).ConfigureAwait(false);
            throw new UserFacingException(error?.Error ?? $"the broker answered HTTP {(int)response.StatusCode}",
                response.StatusCode == System.Net.HttpStatusCode.BadRequest ? ExitCodes.Usage : ExitCodes.Failed);
        }
        return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
            ?? throw new UserFacingException("the broker sent an empty answer", ExitCodes.Failed);
    }
}
