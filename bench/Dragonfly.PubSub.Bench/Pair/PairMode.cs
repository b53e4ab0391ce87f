namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>How agent B is asked for the file.</summary>
[Flags]
internal enum PairMode
{
    /// <summary><c>dfget sha256:… -O FILE --data-dir B</c>: what a user types; includes the CLI's start-up.</summary>
    Dfget = 1,

    /// <summary>B subscribes to the topic and A announces the file: the agent alone, from announcement to file.</summary>
    Subscribe = 2,

    Both = Dfget | Subscribe,
}
