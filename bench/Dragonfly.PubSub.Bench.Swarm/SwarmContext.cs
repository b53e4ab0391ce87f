using System.Diagnostics;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Testbed;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>
/// What every system's run shares: the testbed, the file, the clock. Node 0 is the origin (broker,
/// nginx, tracker), node 1 the publisher (dfpub's agent, the BitTorrent seed), nodes 2..N+1 the receivers.
/// </summary>
internal sealed record SwarmContext(SwarmOptions Options, NetworkTestbed Testbed, string Workspace, string SourceFile, ContentDigest Digest, Stopwatch Clock)
{
    public const int OriginNode = 0;
    public const int PublisherNode = 1;

    public int Receivers => Options.Agents;

    public static int ReceiverNode(int receiver) => receiver + 2;

    public string OriginAddress => Testbed.Plan.Address(OriginNode);

    public string FileName => Path.GetFileName(SourceFile);

    /// <summary>A fresh folder under the workspace, world-readable (nginx, opentracker drop privileges).</summary>
    public string Folder(params string[] parts)
    {
        return WorldReadable.CreateDirectory(Path.Combine([Workspace, .. parts]));
    }

    /// <summary>Long enough for a system 10 times slower than plain client-server, never below a minute.</summary>
    public TimeSpan TransferTimeout =>
        TimeSpan.FromSeconds(60 + 10 * Measurement.LowerBound.ClientServerSeconds(Options.Size, Receivers, Options.Rate.BytesPerSecond));
}
