using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, attack 7 as a slowloris: many connections to a real dfagent's peer port that send their first
/// bytes one at a time, seconds apart, and never finish a handshake. The honest swarm beside them finishes
/// verified while they are open, and the agent closes every one of them within its handshake deadline
/// instead of holding them for as long as the client trickles. Both modes (TLS: they never finish the TLS
/// handshake; plain: never the protocol magic).
/// </summary>
public sealed class SlowlorisTests(ITestOutputHelper output)
{
    private const string Topic = "releases/app";
    private const int Connections = 100;
    private static readonly TimeSpan Trickle = TimeSpan.FromSeconds(4);

    /// <summary>The agent's deadline for a connection's TLS handshake and protocol magic (PieceServer), with slack for a loaded machine.</summary>
    private static readonly TimeSpan ClosedWithin = TimeSpan.FromSeconds(30);

    [Fact]
    public Task SlowClientsOnThePeerPort_AreClosedAtTheHandshakeDeadline_WhileTheSwarmFinishes() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscribers = await cluster.StartAgentsAsync("sub", 2, [Topic]);
        var file = await cluster.CreateFileAsync("app.bin", 16 * MiB, seed: 1151);

        using var stop = new CancellationTokenSource();
        var opened = Stopwatch.StartNew();
        var slow = Enumerable.Range(0, Connections).Select(_ => SlowClientAsync(publisher.Info.PeerPort, stop.Token)).ToList();
        cluster.Log($"{Connections} slow clients connected to {publisher.Name}'s peer port, one byte every {Trickle.TotalSeconds:0} s");

        await cluster.PublishAsync(publisher, file, Topic);
        await cluster.WaitForFileOnAllAsync(subscribers, Topic, file);
        var finishedAt = opened.Elapsed;
        cluster.Log($"the swarm finished {finishedAt.TotalSeconds:0.0} s after the slow clients connected");

        // Each slow client learns that the agent closed its connection; none is held beyond the deadline.
        var closedAfter = await Task.WhenAll(slow).WaitAsync(ClosedWithin + TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        Assert.All(closedAfter, after => Assert.True(after is not null && after <= ClosedWithin,
            $"a slow client was still connected after {ClosedWithin.TotalSeconds:0} s (closed after {after?.TotalSeconds:0.0} s)"));
        Assert.True(closedAfter.Min() >= TimeSpan.FromSeconds(5), "the agent closed slow clients at once: the test did not hold them open while the swarm ran");
    });

    /// <summary>
    /// Connects and sends the start of what the port expects a byte at a time, <see cref="Trickle"/> apart (plain: the
    /// magic "DFP1"; TLS: a TLS record header), never all of it within the agent's 10 s deadline; returns how long
    /// until the agent closed the connection.
    /// </summary>
    private static async Task<TimeSpan?> SlowClientAsync(int port, CancellationToken stop)
    {
        var watch = Stopwatch.StartNew();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port, stop);
        var closed = WaitForCloseAsync(socket, stop);
        byte[] opening = TlsMode.Insecure ? [.. "DFP1"u8] : [0x16, 0x03, 0x01, 0x02];
        foreach (var b in opening)
        {
            try
            {
                await socket.SendAsync(new[] { b }, SocketFlags.None, stop);
            }
            catch (SocketException)
            {
                break; // closed already
            }
            if (await Task.WhenAny(closed, Task.Delay(Trickle, stop)) == closed)
            {
                break;
            }
        }
        return await closed ? watch.Elapsed : null;
    }

    private static async Task<bool> WaitForCloseAsync(Socket socket, CancellationToken stop)
    {
        var buffer = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop) > 0)
            {
                // A TLS alert may come first; the close is what counts.
            }
            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
