namespace Dragonfly.PubSub.Agent.Tests.Fuzzing;

/// <summary>The fuzz tests measure allocations and time: they run alone, not beside other tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "fuzz";
}
