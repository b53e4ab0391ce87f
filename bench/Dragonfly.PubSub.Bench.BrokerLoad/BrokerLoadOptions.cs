namespace Dragonfly.PubSub.Bench.BrokerLoad;

/// <summary>One run of <c>dfbench broker</c>. Immutable; validated by <see cref="BrokerLoadCommand"/>.</summary>
public sealed record BrokerLoadOptions
{
    /// <summary>Simulated agents: each has one scheduler stream and one MQTT client.</summary>
    public int Agents { get; init; } = 5000;

    /// <summary>dfbroker processes; above 1 they share one redis-server (started by the benchmark) and each task goes to one by rendezvous hashing, as agents place it.</summary>
    public int Brokers { get; init; } = 1;

    /// <summary>Tasks (manifests) the agents are spread over, round robin.</summary>
    public int Tasks { get; init; } = 10;

    /// <summary>Agents per task that join as publisher with a full bitmap (counted in <see cref="Agents"/>).</summary>
    public int PublishersPerTask { get; init; } = 2;

    /// <summary>Pieces per task (the synthetic manifest uses 64 KiB pieces).</summary>
    public int Pieces { get; init; } = 1024;

    /// <summary>
    /// Fraction of the pieces an ordinary agent holds when it joins (random). 0.5 models a swarm in
    /// mid-download: every peer is a useful parent of every other, so each answer ranks the whole task.
    /// </summary>
    public double Fill { get; init; } = 0.5;

    /// <summary>Length of the measured load phase.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Each agent sends NeedParents at a random interval between this and twice this.</summary>
    public TimeSpan NeedInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Each agent reports one newly finished piece at a random interval between this and twice this; zero: never.</summary>
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The agents poll their parents' piece maps (dfagent --piece-news peer); false: the broker relays piece news.</summary>
    public bool ParentPieceMaps { get; init; } = true;

    /// <summary>Pieces each report carries (the swarm profile with peer piece news: a second's worth).</summary>
    public int PiecesPerReport { get; init; } = 1;

    /// <summary>Where <see cref="ReportInterval"/> came from (for the report).</summary>
    public LoadProfile Profile { get; init; } = LoadProfile.Default;

    /// <summary>
    /// A request not answered within this long counts as this long (also one that was answered later,
    /// never, or could not be sent); the run waits this long after the load for the last answers.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether dfbroker runs with TLS; off passes --insecure (see <c>BrokerProcess.Arguments</c>).</summary>
    public bool Tls { get; init; }

    /// <summary>Scheduler streams per HTTP/2 connection (Kestrel allows 100 by default).</summary>
    public int StreamsPerConnection { get; init; } = 90;

    /// <summary>Connections or streams opened at the same time during set-up.</summary>
    public int ConnectConcurrency { get; init; } = 64;

    /// <summary>Clients that GET /api/v1/dashboard every second during the load (an operator's page polling).</summary>
    public int DashboardPollers { get; init; }

    /// <summary>Clients that follow /api/v1/dashboard/events during the load (an operator's page with server-sent events).</summary>
    public int DashboardStreams { get; init; }

    /// <summary>Folder for result.json.</summary>
    public string Out { get; init; } = ".";

    /// <summary>The dfbroker executable; null: the one built next to this repository.</summary>
    public string? BrokerPath { get; init; }

    /// <summary>Progress lines for people.</summary>
    public Action<string> Say { get; init; } = _ => { };
}
