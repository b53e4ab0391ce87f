using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Tests.Security;

public sealed class TopicGrantsTests
{
    [Theory]
    [InlineData("releases/#", "releases/app", true)]
    [InlineData("releases/#", "releases", true)]
    [InlineData("releases/#", "releases/+/stable", true)]
    [InlineData("releases/#", "releases/#", true)]
    [InlineData("releases/+", "releases/app", true)]
    [InlineData("releases/+", "releases/+", true)]
    [InlineData("#", "anything/at/all", true)]
    [InlineData("releases/app", "releases/app", true)]
    [InlineData("releases/#", "secret/plan", false)]
    [InlineData("releases/#", "#", false)]
    [InlineData("releases/#", "+/app", false)]
    [InlineData("releases/+", "releases/#", false)]
    [InlineData("releases/+", "releases/app/x", false)]
    [InlineData("releases/app", "releases/+", false)]
    [InlineData("releases/app", "releases/app/x", false)]
    [InlineData("releases/app/x", "releases/app", false)]
    [InlineData("releases/app", "releases/apps", false)]
    public void Covers_OnlyWhenEveryTopicOfTheFilterIsGranted(string grant, string filter, bool covered) =>
        Assert.Equal(covered, TopicGrants.Covers(grant, filter));

    [Fact]
    public void NoGrants_AllowEveryTopic_SeveralAllowTheirUnion()
    {
        Assert.True(TopicGrants.Allow([], "secret/plan"));
        Assert.True(TopicGrants.Allow(["a/#", "b/+"], "b/x"));
        Assert.False(TopicGrants.Allow(["a/#", "b/+"], "c/x"));
    }

    [Theory]
    [InlineData("dragonfly/revoked", null)]
    [InlineData("dragonfly/announce/releases/app", null)]
    [InlineData("dragonfly/announce/releases/#", null)]
    [InlineData("dragonfly/announce/secret/plan", "outside the topics")]
    [InlineData("dragonfly/announce/#", "outside the topics")]
    [InlineData("dragonfly/#", "may subscribe only to")]
    [InlineData("#", "may subscribe only to")]
    [InlineData("$share/g/dragonfly/announce/releases/app", "may subscribe only to")]
    public void MqttSubscriptions_OfALimitedAgent(string filter, string? refusal)
    {
        var agent = new PeerIdentity("agent-1", PeerRole.Agent, ["releases/#"]);

        var reason = MqttPermissions.Refusal(agent, filter);

        if (refusal is null)
        {
            Assert.Null(reason);
        }
        else
        {
            Assert.Contains(refusal, reason);
        }
    }

    [Fact]
    public void MqttSubscriptions_ByRole()
    {
        Assert.Null(MqttPermissions.Refusal(new PeerIdentity("agent-1", PeerRole.Agent, []), "#"));
        Assert.Null(MqttPermissions.Refusal(new PeerIdentity("admin-1", PeerRole.Admin, []), "dragonfly/announce/x"));
        Assert.Null(MqttPermissions.Refusal(new PeerIdentity("seed-1", PeerRole.Seed, []), "dragonfly/revoked"));
        Assert.Contains("role seed", MqttPermissions.Refusal(new PeerIdentity("seed-1", PeerRole.Seed, []), "dragonfly/announce/x"));
        Assert.Contains("role publisher", MqttPermissions.Refusal(new PeerIdentity("pub-1", PeerRole.Publisher, []), "dragonfly/announce/x"));
        Assert.NotNull(MqttPermissions.Refusal(null, "dragonfly/revoked"));
    }
}
