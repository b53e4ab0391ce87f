using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Grpc.Core;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Joins a task on the real scheduler as the test's own identity (the admin certificate) and returns the
/// peer ticket its first parent set carries: what an honest member presents on a peer port (issue 11).
/// </summary>
internal static class SchedulerTicket
{
    public static async Task<byte[]> JoinAsync(BrokerProcess broker, string digest)
    {
        var answer = await FirstAnswerAsync(broker, digest);
        Assert.True(answer.EventCase == SchedulerEvent.EventOneofCase.Parents, $"the scheduler answered the join of {digest} with {answer}");
        var ticket = answer.Parents.Ticket.ToByteArray();
        Assert.True(ticket.Length > 0, "the scheduler's parent set carries no ticket in secure mode");
        return ticket;
    }

    /// <summary>The scheduler's answer to a JoinTask of <paramref name="digest"/>: a parent set, or TaskFailed when it refuses.</summary>
    public static async Task<SchedulerEvent> FirstAnswerAsync(BrokerProcess broker, string digest)
    {
        var fleet = broker.Fleet ?? throw new InvalidOperationException("tickets exist in secure mode only");
        using var channel = broker.CreateChannel();
        var client = new Scheduler.SchedulerClient(channel);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = client.Connect(cancellationToken: timeout.Token);
        await call.RequestStream.WriteAsync(new PeerEvent { Hello = new Hello { PeerId = fleet.Admin.PeerId, Host = "127.0.0.1", PeerPort = TestCluster.ClosedPort() } });
        await call.RequestStream.WriteAsync(new PeerEvent { Join = new JoinTask { Digest = digest } });
        while (await call.ResponseStream.MoveNext(timeout.Token))
        {
            var answer = call.ResponseStream.Current;
            if (answer.EventCase is SchedulerEvent.EventOneofCase.Parents or SchedulerEvent.EventOneofCase.TaskFailed)
            {
                await call.RequestStream.WriteAsync(new PeerEvent { Leave = new LeaveTask { Digest = digest } });
                await call.RequestStream.CompleteAsync();
                return answer;
            }
        }
        throw new Xunit.Sdk.XunitException($"the scheduler sent no parent set for {digest}");
    }
}
