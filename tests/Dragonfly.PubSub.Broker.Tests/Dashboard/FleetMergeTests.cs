using Dragonfly.PubSub.Broker.Dashboard;

namespace Dragonfly.PubSub.Broker.Tests.Dashboard;

/// <summary>How one broker's view and the others' shares make the fleet's: one agent per peer id, members summed.</summary>
public sealed class FleetMergeTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Fleet_AnAgentOnSeveralBrokersIsOne_OnlineIfAnySaysSo_LatestSeen_TasksSummed()
    {
        var local = new FleetView(1, 1, [], [Agent("a", online: true, T0, tasks: 1), Agent("b", online: false, T0, tasks: 0)], 0);
        FleetShare[] others = [Share("x", [Agent("b", online: true, T0.AddSeconds(5), tasks: 2), Agent("c", online: true, T0, tasks: 1)], [])];

        var merged = FleetMerge.Fleet(local, others);

        Assert.Equal(["a", "b", "c"], merged.Agents.Select(a => a.PeerId));
        Assert.All(merged.Agents, a => Assert.True(a.Online));
        Assert.Equal((3, 0, 0), (merged.Online, merged.Offline, merged.Unlisted));
        var b = merged.Agents.Single(a => a.PeerId == "b");
        Assert.Equal((T0.AddSeconds(5), 2), (b.LastSeen, b.Tasks));
        var group = Assert.Single(merged.Groups);
        Assert.Equal(3, group.Online);
    }

    [Fact]
    public void Tasks_MembersOfTheBrokerATaskLivesOnAreAdded_AndItsLiveTasksListed()
    {
        TaskView[] local = [Task("sha256:1", live: false, members: 0, complete: 0, progress: 0)];
        FleetShare[] others =
        [
            Share("x", [], [Task("sha256:1", live: true, members: 3, complete: 1, progress: 0.5), Task("sha256:2", live: true, members: 1, complete: 0, progress: 0.25)]),
        ];

        var merged = FleetMerge.Tasks(local, others);

        Assert.Equal(["sha256:1", "sha256:2"], merged.Select(t => t.Digest));
        Assert.Equal((true, 3, 1, 0.5), (merged[0].Live, merged[0].Members, merged[0].Complete, merged[0].Progress));
        Assert.Equal(1, merged[1].Members);
    }

    [Fact]
    public void Merge_WithoutOtherBrokers_IsTheLocalViewItself()
    {
        var view = new DashboardView(T0, new BrokerView("b", "1", false, 0, 0, T0), new FleetView(0, 0, [], [], 0), [], [], null,
            new TrafficView(0, 0, 0, 0, 0, 0, 0, 0, 0, 10, []), new FailuresView(new Dictionary<string, long>(), []), []);

        Assert.Same(view, FleetMerge.Merge(view, []));
    }

    private static AgentView Agent(string id, bool online, DateTimeOffset seen, int tasks) =>
        new(id, "127.0.0.1", "", "", "1.0", false, online, T0, seen, [], tasks);

    private static TaskView Task(string digest, bool live, int members, int complete, double progress) =>
        new(digest, "f.bin", "t", 10, 1, false, T0, live, members, complete, progress, 0, 0, 0, 0, 0);

    private static FleetShare Share(string broker, AgentView[] agents, TaskView[] tasks) => new(broker, T0, agents, tasks);
}
