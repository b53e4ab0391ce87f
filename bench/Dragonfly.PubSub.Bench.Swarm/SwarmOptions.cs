using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Swarm.Testbed;

namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>What <c>dfbench swarm</c> was asked to do.</summary>
internal sealed record SwarmOptions
{
    public required int Agents { get; init; }

    public required long Size { get; init; }

    public required LinkRate Rate { get; init; }

    /// <summary>Our swarm's scenarios, each a system in the report (<see cref="SwarmModes"/>).</summary>
    public IReadOnlyList<string> Modes { get; init; } = [SwarmModes.Publish];

    public IReadOnlyList<string> Baselines { get; init; } = ["direct", "bittorrent"];

    public required string Out { get; init; }

    public int Runs { get; init; } = 1;

    /// <summary>Keep the workspace (logs, copies) instead of deleting it.</summary>
    public bool Keep { get; init; }

    /// <summary>dfpub --piece-size; null: dfpub's default.</summary>
    public long? PieceSize { get; init; }

    /// <summary>dfagent --pieces-in-flight; null: the agent's default.</summary>
    public int? PiecesInFlight { get; init; }

    /// <summary>
    /// The upload cap of every receiver: each dfagent that downloads (dfagent --upload-limit) and each aria2c leecher
    /// (--max-overall-upload-limit); null: none. Below the link rate it keeps a receiver's upload queue short, so the
    /// ACKs of its own downloads are not held behind its uploads (see the README's session 12).
    /// </summary>
    public LinkRate? UploadLimit { get; init; }

    /// <summary>
    /// The upload cap of the publishing side: dfpub's dfagent, the broker's in-process seed of URL mode
    /// (dfbroker --seed-upload-limit) and aria2c's seed; null: none. A peer that only uploads holds no ACKs of
    /// downloads in its queue, so a cap only lowers its rate; the broker's seed is the exception, as the scheduler's
    /// messages leave its node through the same queue (README, session 13).
    /// </summary>
    public LinkRate? SeedUploadLimit { get; init; }

    /// <summary>Our systems run once per setting (<c>--tls on|off|both</c>); the baselines once per run.</summary>
    public IReadOnlyList<TlsSetting> Tls { get; init; } = [TlsSetting.On];

    /// <summary>Where progress lines go (the console, or a test's log).</summary>
    public Action<string> Say { get; init; } = Console.WriteLine;
}
