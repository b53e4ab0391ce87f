using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// Manifests of content nobody has: well-formed digests and piece digests (they pass Manifests.Validate)
/// derived from a run id, so no file is hashed and every run publishes new tasks.
/// </summary>
internal static class SyntheticManifest
{
    public const int PieceSize = PieceLayout.MinPieceSize;
    public const string TopicPrefix = "bench/";

    /// <summary>The MQTT filter every simulated agent subscribes to.</summary>
    public static string Filter => TopicName.ToMqttTopic(TopicPrefix + "#");

    public static Manifest Create(string runId, string label, int pieces)
    {
        var manifest = new Manifest
        {
            Digest = ContentDigest.FromHash(Hash($"{runId}/{label}")).ToString(),
            Name = $"{label}.bin",
            Size = (long)pieces * PieceSize,
            PieceSize = PieceSize,
            Topic = TopicPrefix + label,
            Publisher = $"bench-{label}-publisher",
        };
        for (var i = 0; i < pieces; i++)
        {
            manifest.PieceDigests.Add(ByteString.CopyFrom(Hash($"{runId}/{label}/{i}")));
        }
        return manifest.Validate() is { } problem
            ? throw new InvalidOperationException($"synthetic manifest is invalid: {problem}")
            : manifest;
    }

    private static byte[] Hash(string text) => SHA256.HashData(Encoding.UTF8.GetBytes(text));
}
