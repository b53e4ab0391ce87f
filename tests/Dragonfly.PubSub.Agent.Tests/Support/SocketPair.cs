using System.Net;
using System.Net.Sockets;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>Two connected TCP sockets on loopback: the two ends of one peer connection.</summary>
internal sealed class SocketPair : IDisposable
{
    private SocketPair(Socket client, Socket server)
    {
        Client = client;
        Server = server;
    }

    public Socket Client { get; }
    public Socket Server { get; }

    public static async Task<SocketPair> ConnectAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return new SocketPair(client, server);
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
