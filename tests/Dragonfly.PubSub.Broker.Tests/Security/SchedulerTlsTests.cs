using System.Net.Security;
using Dragonfly.PubSub.Broker.Tests.Support;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Testing;
using Grpc.Core;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Broker.Tests.Security;

/// <summary>A real Grpc.Net.Client against the secure broker's HTTPS/2 scheduler.</summary>
public sealed class SchedulerTlsTests() : SecureSchedulerBroker("grpcs")
{
    [Fact]
    public async Task Client_WithoutCertificate_IsRefused()
    {
        using var peer = await EnrolledPeer.EnrollAsync(Broker, await BrokerCommand.CreateTokenAsync(Broker.DataDir), Files);
        var options = peer.Identity.ClientOptions("127.0.0.1");
        options.ClientCertificateContext = null; // trusts the broker, but has no certificate of its own
        using var channel = Channel(options);

        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            new Scheduler.SchedulerClient(channel).GetManifestAsync(new GetManifestRequest { Digest = "sha256:" + new string('0', 64) }).ResponseAsync.WaitAsync(Timeout));

        // The call never reached the scheduler (which would answer NotFound for this digest): with TLS 1.3 the
        // server judges the client certificate after the client's handshake ends, so the refusal surfaces as a
        // transport failure (Unavailable or Internal, depending on timing).
        Assert.True(refused.StatusCode is not (StatusCode.OK or StatusCode.NotFound), $"{refused.StatusCode}: {refused.Status.Detail}");
    }

    [Fact]
    public async Task Connect_HelloWithAnotherPeerId_IsPermissionDenied_AndItsOwnIdIsWelcome()
    {
        using var peer = await EnrolledPeer.EnrollAsync(Broker, await BrokerCommand.CreateTokenAsync(Broker.DataDir), Files);
        using var channel = Channel(peer.Identity.ClientOptions("127.0.0.1"));
        var client = new Scheduler.SchedulerClient(channel);

        using (var impostor = client.Connect())
        {
            await impostor.RequestStream.WriteAsync(Hello("agent-somebody-else"));
            var denied = await Assert.ThrowsAsync<RpcException>(() => impostor.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout));
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
            Assert.Contains($"is not the peer id '{peer.PeerId}' of the client certificate", denied.Status.Detail);
        }

        using var session = client.Connect();
        await session.RequestStream.WriteAsync(Hello(peer.PeerId));
        Assert.True(await session.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout));
        Assert.Equal(SchedulerEvent.EventOneofCase.Welcome, session.ResponseStream.Current.EventCase);

        // Revoking the peer cuts this live stream at once.
        Assert.Equal(0, (await BrokerCommand.RunAsync("cert", "revoke", peer.PeerId, "--data-dir", Broker.DataDir)).ExitCode);
        var cut = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await session.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout))
            {
            }
        });
        Assert.NotEqual(StatusCode.OK, cut.StatusCode);

        // And a new call on a new connection is refused at the handshake.
        using var again = Channel(peer.Identity.ClientOptions("127.0.0.1"));
        await Assert.ThrowsAsync<RpcException>(() =>
            new Scheduler.SchedulerClient(again).GetManifestAsync(new GetManifestRequest { Digest = "sha256:" + new string('0', 64) }).ResponseAsync.WaitAsync(Timeout));
    }

    private static PeerEvent Hello(string peerId) => new() { Hello = new Hello { PeerId = peerId, PeerPort = 4000 } };
}
