using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Security;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, attacks 4 and 7 on the agents' peer port, against real dfagent processes: pieces go only to
/// members of the task, a client that never reads loses its upload slot, a host that opens connections
/// without end is cut off; and each time an honest swarm beside it finishes verified.
/// </summary>
public sealed class PeerPortAbuseTests(ITestOutputHelper output)
{
    private const string Topic = "secure/app";
    private const string Refused = "dragonfly_agent_peer_refused_total";

    [Fact]
    public Task FleetMemberOutsideTheTask_IsRefusedItsPieces_MembersSwarm() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: no identities, so no tickets: the peer port serves anyone who reaches it (README, Security model)");
            return;
        }
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscribers = await cluster.StartAgentsAsync("sub", 2, [Topic]);
        var file = await cluster.CreateFileAsync("private.bin", 6 * MiB, seed: 1201);
        await cluster.PublishAsync(publisher, file, Topic);
        await cluster.WaitForFileOnAllAsync(subscribers, Topic, file);

        // An enrolled machine of the fleet (the test's own certificate) that never joined the task asks each
        // agent's peer port, and the broker's seed port, for the first piece: status 5, no byte.
        var identity = broker.Fleet!.Identity.Certificate;
        var ports = new[] { publisher.Info.PeerPort }.Concat(subscribers.Select(s => s.Info.PeerPort)).ToList();
        if (broker.Info.SeedPort is int seedPort)
        {
            ports.Add(seedPort);
        }
        foreach (var port in ports)
        {
            var answer = await PeerWire.TlsAsync(port, identity, PeerWire.Request(file.Sha256Hex, (int)MiB));
            Assert.True(answer is [5, 0, 0, 0, 0], $"port {port} answered a non-member with {answer?.Length} bytes instead of status 5");
        }

        // A ticket it signed itself (every agent has a key and a fleet certificate) is no better.
        var selfMade = PeerTicket.Sign(Convert.FromHexString(file.Sha256Hex), broker.Fleet.Admin.PeerId, DateTimeOffset.UtcNow.AddHours(1), identity);
        var forged = await PeerWire.TlsAsync(publisher.Info.PeerPort, identity, PeerWire.RequestWithTicket(file.Sha256Hex, (int)MiB, selfMade));
        Assert.True(forged is [5, 0, 0, 0, 0], $"a self-signed ticket got {forged?.Length} bytes");

        // Counted, and said once per connection in the agent's log.
        var refused = (await publisher.GetMetricsAsync()).Require(Refused, ("reason", "ticket"));
        Assert.True(refused >= 2, $"the publisher should count both refused requests in {Refused}{{reason=\"ticket\"}}, counted {refused}");
        Assert.Contains(publisher.Process.LinesWhere(l => l.Contains("refused the piece requests of peer", StringComparison.Ordinal)),
            l => l.Contains("not signed by a broker", StringComparison.Ordinal) || l.Contains("not by a broker", StringComparison.Ordinal));

        // Nothing of it reached anyone's output directory but the subscribers'; a third subscriber still swarms.
        var late = await cluster.StartAgentAsync("late", [Topic]);
        await cluster.PublishAsync(publisher, file, Topic);
        await late.WaitForFileAsync(late.OutputPathOf(Topic, file.Name), file, TestCluster.TransferTimeout);
    });

    [Fact]
    public Task ClientThatNeverReads_LosesItsUploadSlotWithinTheSendTimeout_AndAnHonestPeerIsServed() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        // One upload slot: while the slow client holds it, nobody else is served.
        var publisher = await cluster.StartAgentAsync("pub", extraArgs: ["--upload-slots", "1", "--peer-send-timeout", "3"]);
        var file = await cluster.CreateFileAsync("big.bin", 32 * MiB, seed: 1202);
        await cluster.PublishAsync(publisher, file, Topic);

        // Asks for 16 MiB twice with a tiny receive window and reads nothing: the first answer fills the
        // socket buffers and the agent's write waits on it.
        var requests = new List<byte>();
        var ticket = TlsMode.Insecure ? null : await SchedulerTicket.JoinAsync(broker, file.Digest);
        requests.AddRange(ticket is null ? PeerWire.Request(file.Sha256Hex, 16 * (int)MiB) : PeerWire.RequestWithTicket(file.Sha256Hex, 16 * (int)MiB, ticket));
        requests.AddRange(PeerWire.Request(file.Sha256Hex, 16 * (int)MiB).AsSpan(4).ToArray());
        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await slow.ConnectAsync(IPAddress.Loopback, publisher.Info.PeerPort);
        await using var stream = await OpenAsync(slow, broker);
        await stream.WriteAsync(requests.ToArray());
        await stream.FlushAsync();
        cluster.Log("slow client sent its requests and reads nothing");

        // Within the timeout the agent drops it and says so; an honest subscriber then gets the file
        // while the slow client's socket is still open on its side.
        await Wait.UntilAsync("the publisher to drop the client that does not read", TimeSpan.FromSeconds(30), () => Task.FromResult(
            publisher.Process.LinesWhere(l => l.Contains("dropped the peer connection", StringComparison.Ordinal)).Count > 0));
        var subscriber = await cluster.StartAgentAsync("sub", [Topic]);
        await cluster.PublishAsync(publisher, file, Topic);
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic, file.Name), file, TestCluster.TransferTimeout);
        var timeouts = (await publisher.GetMetricsAsync()).Require(Refused, ("reason", "send_timeout"));
        Assert.True(timeouts >= 1, $"the publisher should count the dropped client in {Refused}{{reason=\"send_timeout\"}}");
    });

    [Fact]
    public Task HostOverTheConnectionCap_ItsExtraConnectionIsClosed_AndTheSwarmIsServedOnceItsGone() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub", extraArgs: ["--peer-max-connections-per-address", "6"]);
        var file = await cluster.CreateFileAsync("capped.bin", 8 * MiB, seed: 1203);
        await cluster.PublishAsync(publisher, file, Topic);

        // Six idle connections from 127.0.0.1 (no handshake, no request: each holds a handler until the
        // handshake timeout), then a seventh: closed at once.
        var held = new List<Socket>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                held.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, publisher.Info.PeerPort);
            }
            using var extra = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await extra.ConnectAsync(IPAddress.Loopback, publisher.Info.PeerPort);
            Assert.True(await ClosedWithinAsync(extra, TimeSpan.FromSeconds(5)), "the connection over the cap was not closed by the agent");
            Assert.False(await ClosedWithinAsync(held[0], TimeSpan.FromMilliseconds(500)), "a connection within the cap was closed at once");
            var refused = (await publisher.GetMetricsAsync()).Require(Refused, ("reason", "connections"));
            Assert.True(refused >= 1, $"the publisher should count the refused connection in {Refused}{{reason=\"connections\"}}");
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }

        // Once they are gone, a subscriber on the same address swarms as usual (4 pieces in flight: within the cap).
        var subscriber = await cluster.StartAgentAsync("sub", [Topic], ["--pieces-in-flight", "4"]);
        await cluster.PublishAsync(publisher, file, Topic);
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic, file.Name), file, TestCluster.TransferTimeout);
    });

    /// <summary>The raw connection as the slow client speaks it: TLS with the test's fleet certificate, or plain.</summary>
    private static async Task<Stream> OpenAsync(Socket socket, BrokerProcess broker)
    {
        var network = new NetworkStream(socket, ownsSocket: false);
        if (TlsMode.Insecure)
        {
            return network;
        }
        var ssl = new SslStream(network, leaveInnerStreamOpen: false);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "peer",
            ClientCertificates = [broker.Fleet!.Identity.Certificate],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        }).WaitAsync(TimeSpan.FromSeconds(15));
        return ssl;
    }

    /// <summary>True when the other side closed (or reset) the connection within <paramref name="within"/>.</summary>
    private static async Task<bool> ClosedWithinAsync(Socket socket, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            return await socket.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token) == 0;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }
}
