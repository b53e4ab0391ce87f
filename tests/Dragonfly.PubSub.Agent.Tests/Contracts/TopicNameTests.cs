using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

public sealed class TopicNameTests
{
    [Theory]
    [InlineData("releases/app")]
    [InlineData("a")]
    [InlineData("team-1/builds/x86_64")]
    public void ValidateTopic_AcceptsConcreteTopics(string topic)
    {
        Assert.Null(TopicName.ValidateTopic(topic));
    }

    [Theory]
    [InlineData("releases/#", "wildcard")]
    [InlineData("releases/+/app", "wildcard")]
    [InlineData("releases/../etc", "..")]
    [InlineData("./x", ". or ..")]
    [InlineData("$SYS/broker", "$")]
    [InlineData("/releases", "empty level")]
    [InlineData("releases//app", "empty level")]
    [InlineData("releases/", "empty level")]
    [InlineData("", "empty")]
    [InlineData("a\\b", "backslash")]
    public void ValidateTopic_RejectsWithAReason(string topic, string reason)
    {
        var error = TopicName.ValidateTopic(topic);
        Assert.NotNull(error);
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData("releases/#")]
    [InlineData("#")]
    [InlineData("+/app")]
    [InlineData("releases/+/stable")]
    public void ValidateFilter_AcceptsMqttWildcards(string filter)
    {
        Assert.Null(TopicName.ValidateFilter(filter));
    }

    [Theory]
    [InlineData("releases/#/x")]
    [InlineData("releases/a#")]
    [InlineData("releases/a+")]
    [InlineData("$share/g/x")]
    [InlineData("../#")]
    public void ValidateFilter_RejectsMisplacedWildcardsAndEscapes(string filter)
    {
        Assert.NotNull(TopicName.ValidateFilter(filter));
    }

    [Fact]
    public void MqttTopic_RoundTrips()
    {
        var mqtt = TopicName.ToMqttTopic("releases/app");

        Assert.Equal("dragonfly/announce/releases/app", mqtt);
        Assert.Equal("releases/app", TopicName.FromMqttTopic(mqtt));
        Assert.Null(TopicName.FromMqttTopic("dragonfly/announce/"));
        Assert.Null(TopicName.FromMqttTopic("other/releases/app"));
    }
}
