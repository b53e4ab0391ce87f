using System.Net;
using System.Net.Sockets;

namespace Dragonfly.PubSub.Testing;

public static class FreePort
{
    /// <summary>A loopback port free right now (for servers that cannot report a port 0 binding).</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits until something accepts connections on <paramref name="port"/>.</summary>
    public static async Task WaitUntilListeningAsync(int port, ServerProcess process, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(20);
            }
            catch (SocketException)
            {
                throw new InvalidOperationException($"{process.Name} is not listening on port {port}:\n{process.Output}");
            }
        }
    }
}
