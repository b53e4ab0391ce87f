using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// A hand-made client of the peer port, to knock on it the way an intruder would: the piece
/// protocol's bytes ("DFP1" + a 44-byte request) in clear, or inside TLS with any certificate.
/// </summary>
internal static class PeerWire
{
    /// <summary>The magic and one request for <paramref name="length"/> bytes at 0 of the artifact with <paramref name="sha256Hex"/>.</summary>
    public static byte[] Request(string sha256Hex, int length)
    {
        var bytes = new byte[4 + 32 + 8 + 4];
        "DFP1"u8.CopyTo(bytes);
        Convert.FromHexString(sha256Hex).CopyTo(bytes, 4);
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(36), 0);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(44), length);
        return bytes;
    }

    /// <summary>
    /// The magic, a ticket frame (a request of length -1 whose offset is the ticket's length, then the
    /// ticket) and one request: what a member of the task sends.
    /// </summary>
    public static byte[] RequestWithTicket(string sha256Hex, int length, byte[] ticket)
    {
        var plain = Request(sha256Hex, length);
        var head = new byte[32 + 8 + 4];
        Convert.FromHexString(sha256Hex).CopyTo(head, 0);
        BinaryPrimitives.WriteInt64BigEndian(head.AsSpan(32), ticket.Length);
        BinaryPrimitives.WriteInt32BigEndian(head.AsSpan(40), -1);
        return [.. plain.AsSpan(0, 4), .. head, .. ticket, .. plain.AsSpan(4)];
    }

    /// <summary>Sends the request in clear; returns every byte the port sent back before it closed.</summary>
    public static async Task<byte[]> PlainAsync(int port, byte[] request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(request);
        return await ReadToEndAsync(new NetworkStream(socket, ownsSocket: false));
    }

    /// <summary>
    /// TLS with <paramref name="certificate"/> (the server's certificate is not checked), then the request;
    /// returns what came back, or null when the handshake or the stream failed (refused).
    /// </summary>
    public static async Task<byte[]?> TlsAsync(int port, X509Certificate2 certificate, byte[] request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "peer",
                ClientCertificates = [certificate],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            }).WaitAsync(TimeSpan.FromSeconds(15));
            await ssl.WriteAsync(request);
            var answer = await ReadToEndAsync(ssl);
            return answer.Length == 0 ? null : answer;
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
            return null;
        }
    }

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Write(buffer, 0, n);
                if (received.Length >= 5 && received.Length >= 5 + BinaryPrimitives.ReadInt32BigEndian(received.GetBuffer().AsSpan(1, 4)))
                {
                    break; // a whole response: the server keeps the connection open for the next request
                }
            }
        }
        catch (IOException)
        {
            // Reset by the server.
        }
        catch (OperationCanceledException)
        {
            // The server neither answered nor closed: what came is the answer.
        }
        return received.ToArray();
    }
}
