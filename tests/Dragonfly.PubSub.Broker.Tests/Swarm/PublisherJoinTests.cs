using System.Net.Security;
using Dragonfly.PubSub.Broker.Tests.Support;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Testing;
using Grpc.Core;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Broker.Tests.Swarm;

/// <summary>
/// A real secure broker and real gRPC streams: the agent that calls Publish is a member of the task before
/// the announcement goes out, so a subscriber that joins at once gets it as parent in its first parent set
/// (its own JoinTask could only follow Publish's answer: the first subscribers used to wait ~50-70 ms for it).
/// </summary>
public sealed class PublisherJoinTests() : SecureSchedulerBroker("pubjoin")
{
    [Fact]
    public async Task Publish_FromAConnectedAgent_ItIsTheParentInTheFirstSubscribersFirstParentSet()
    {
        var token = await BrokerCommand.CreateTokenAsync(Broker.DataDir, "agent,publisher", uses: 2);
        using var publisherPeer = await EnrolledPeer.EnrollAsync(Broker, token, Files);
        using var subscriberPeer = await EnrolledPeer.EnrollAsync(Broker, token, Files);
        using var publisherChannel = Channel(publisherPeer.Identity.ClientOptions("127.0.0.1"));
        using var subscriberChannel = Channel(subscriberPeer.Identity.ClientOptions("127.0.0.1"));
        var publisherClient = new Scheduler.SchedulerClient(publisherChannel);
        using var publisherStream = await ConnectAsync(publisherClient, publisherPeer.PeerId, 4000);
        using var subscriberStream = await ConnectAsync(new Scheduler.SchedulerClient(subscriberChannel), subscriberPeer.PeerId, 4100);

        // The manifest names somebody else: in secure mode the caller's certificate decides who publishes.
        var manifest = TestManifests.Create("joined-by-publish", 4, publisher: "agent-claimed-by-the-manifest");
        await publisherClient.PublishAsync(new PublishRequest { Manifest = manifest }).ResponseAsync.WaitAsync(Timeout);

        // The publisher never sends a JoinTask in this test: the subscriber's answer shows what Publish did.
        await subscriberStream.RequestStream.WriteAsync(new PeerEvent { Join = new JoinTask { Digest = manifest.Digest, Bitmap = Google.Protobuf.ByteString.CopyFrom(new byte[1]), RequestId = 7 } });
        SchedulerEvent answer;
        do
        {
            Assert.True(await subscriberStream.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout), "the scheduler ended the subscriber's stream");
            answer = subscriberStream.ResponseStream.Current;
        }
        while (answer.EventCase != SchedulerEvent.EventOneofCase.Parents);

        Assert.Equal(7UL, answer.Parents.RequestId);
        var parent = Assert.Single(answer.Parents.Parents);
        Assert.Equal((publisherPeer.PeerId, 4000, true), (parent.PeerId, parent.Port, parent.LastResort));
    }

    private static async Task<AsyncDuplexStreamingCall<PeerEvent, SchedulerEvent>> ConnectAsync(Scheduler.SchedulerClient client, string peerId, int port)
    {
        var stream = client.Connect();
        await stream.RequestStream.WriteAsync(new PeerEvent { Hello = new Hello { PeerId = peerId, PeerPort = port } });
        Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Timeout), $"no Welcome for {peerId}");
        Assert.Equal(SchedulerEvent.EventOneofCase.Welcome, stream.ResponseStream.Current.EventCase);
        return stream;
    }
}
