using System.Text.Json.Serialization;

namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>The figures of one run, or the medians over all runs (then <see cref="Run"/> is null).</summary>
internal sealed record PairFigures
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Run { get; init; }

    /// <summary>"on" or "off" (<c>--tls</c>); what that meant for these builds is in the report's <c>tls</c>.</summary>
    public required string Tls { get; init; }

    /// <summary>The baseline: curl from its start to its exit, against nginx serving the same file.</summary>
    public required double CurlSeconds { get; init; }

    [JsonPropertyName("curlGibPerSecond")]
    public required double CurlGiBPerSecond { get; init; }

    /// <summary>A fresh agent B pulls through <c>dfget sha256:… -O FILE</c>, timed from dfget's start to its exit.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AgentTransfer? Dfget { get; init; }

    /// <summary>A fresh agent B subscribed to the topic, timed from its first event for the announced task to "succeeded".</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AgentTransfer? Subscribe { get; init; }
}
