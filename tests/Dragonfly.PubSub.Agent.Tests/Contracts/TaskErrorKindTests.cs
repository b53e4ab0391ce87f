using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

public class TaskErrorKindTests
{
    public static TheoryData<TaskErrorKind> Kinds => [.. Enum.GetValues<TaskErrorKind>()];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryKind_SurvivesTheWireAndItsName(TaskErrorKind kind)
    {
        Assert.Equal(kind, TaskErrorKinds.FromWire(kind.ToWire()));
        Assert.Equal(kind, TaskErrorKinds.Parse(TaskErrorKinds.Name(kind)));
    }

    [Fact]
    public void EveryKind_HasItsOwnWireValueAndName()
    {
        var kinds = Enum.GetValues<TaskErrorKind>();
        Assert.Equal(kinds.Length, kinds.Select(k => k.ToWire()).Distinct().Count());
        Assert.Equal(kinds.Length, kinds.Select(TaskErrorKinds.Name).Distinct().Count());
        Assert.Equal(kinds.Length, Enum.GetValues<SourceErrorKind>().Length); // a new wire kind needs a name here too
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("quota-exceeded")] // a newer peer's kind
    [InlineData("NotFound")]       // names are kebab-case only
    public void Parse_OfAnythingElse_IsOther(string? name)
    {
        Assert.Equal(TaskErrorKind.Other, TaskErrorKinds.Parse(name));
    }

    [Theory]
    [InlineData(OriginErrorKind.NotFound, TaskErrorKind.NotFound)]
    [InlineData(OriginErrorKind.AccessDenied, TaskErrorKind.AccessDenied)]
    [InlineData(OriginErrorKind.Rejected, TaskErrorKind.Rejected)]
    [InlineData(OriginErrorKind.Tls, TaskErrorKind.Rejected)]
    [InlineData(OriginErrorKind.EgressRefused, TaskErrorKind.Rejected)]
    [InlineData(OriginErrorKind.Unavailable, TaskErrorKind.Unavailable)]
    [InlineData(OriginErrorKind.Timeout, TaskErrorKind.Unavailable)]
    public void AnOriginsFailure_GivesTheTaskItsKind(OriginErrorKind origin, TaskErrorKind expected)
    {
        Assert.Equal(expected, origin.ToTaskErrorKind());
    }
}
