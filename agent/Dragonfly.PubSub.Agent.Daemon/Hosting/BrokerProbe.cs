using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// One TLS handshake with the broker's scheduler port at start, to turn a TLS/plain-text mismatch
/// (one side started with --insecure, the other not) into one clear line instead of endless
/// retries. Says nothing when the broker cannot be reached: the agent then retries as always.
/// Certificates are not judged here; the real connections do that. A secure agent presents its own
/// certificate, so that the broker does not log and count the probe as a refused client.
/// </summary>
internal static class BrokerProbe
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <exception cref="UserFacingException">The broker speaks TLS and this agent does not, or the reverse.</exception>
    public static async Task CheckAsync(AgentOptions options, AgentIdentity? identity, CancellationToken ct)
    {
        var tls = identity is not null;
        var address = $"{options.BrokerHost}:{options.BrokerGrpcPort}";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(options.BrokerHost, options.BrokerGrpcPort, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return; // not up (yet): the scheduler session retries
        }
        bool speaksTls;
        var recorder = new FirstByteStream(tcp.GetStream());
        await using (var ssl = new SslStream(recorder, leaveInnerStreamOpen: false))
        {
            try
            {
                var probe = identity?.Current.ClientOptions(options.BrokerHost) ?? new SslClientAuthenticationOptions { TargetHost = options.BrokerHost };
                probe.ApplicationProtocols = [SslApplicationProtocol.Http2];
                // Only "does it speak TLS" is asked here.
                probe.RemoteCertificateValidationCallback = (_, _, _, _) => true;
                await ssl.AuthenticateAsClientAsync(probe, timeout.Token).ConfigureAwait(false);
                speaksTls = true;
            }
            catch (Exception e) when (e is IOException or AuthenticationException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                // A TLS server answers a hello it dislikes with a TLS record (alert 0x15, handshake 0x16);
                // a plain-text one with its own bytes, or by closing.
                speaksTls = recorder.FirstByte is >= 0x14 and <= 0x17;
            }
        }
        if (tls && !speaksTls)
        {
            throw new UserFacingException($"the broker at {address} does not speak TLS; start both sides with --insecure or neither");
        }
        if (!tls && speaksTls)
        {
            throw new UserFacingException($"the broker at {address} speaks TLS but this agent runs with --insecure; drop --insecure and enrol (--join-token), or start the broker with --insecure too");
        }
    }
}
