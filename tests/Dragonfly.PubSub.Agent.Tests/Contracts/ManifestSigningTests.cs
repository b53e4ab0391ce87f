using System.Text;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

/// <summary>The bytes a broker signs for a manifest: the content fields only, the same after the wire, different for any piece.</summary>
public sealed class ManifestSigningTests
{
    private static Manifest Registered()
    {
        var manifest = new Manifest
        {
            Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            Name = "app.tar",
            Topic = "releases/app",
            Size = 5 * 1024 * 1024,
            PieceSize = 4 * 1024 * 1024,
            Publisher = "agent-0123456789ab",
        };
        manifest.PieceDigests.Add(ByteString.CopyFrom(Enumerable.Repeat((byte)1, 32).ToArray()));
        manifest.PieceDigests.Add(ByteString.CopyFrom(Enumerable.Repeat((byte)2, 32).ToArray()));
        return manifest;
    }

    [Fact]
    public void BytesToSign_AreTheSameAfterTheWire_AndLeaveOutNameTopicLabelsAndTheSignature()
    {
        var wire = Manifest.Parser.ParseFrom(Registered().ToByteArray());
        var elsewhere = Registered();
        elsewhere.Name = "renamed.tar";
        elsewhere.Topic = "releases/other";
        elsewhere.Labels["arch"] = "arm64";
        elsewhere.Signer = "Y2VydA==";
        elsewhere.Signature = "c2ln";

        Assert.Equal(ManifestSigning.BytesToSign(Registered()), ManifestSigning.BytesToSign(wire));
        Assert.Equal(ManifestSigning.BytesToSign(Registered()), ManifestSigning.BytesToSign(elsewhere));
        Assert.StartsWith(ManifestSigning.DomainTag + "\0", Encoding.ASCII.GetString(ManifestSigning.BytesToSign(Registered())), StringComparison.Ordinal);
    }

    public static TheoryData<string> Changes() => new() { "digest", "size", "pieceSize", "piece", "order", "count", "boundary" };

    [Theory]
    [MemberData(nameof(Changes))]
    public void AnyFieldThatDecidesTheBytes_ChangesWhatIsSigned(string field)
    {
        var changed = Registered();
        switch (field)
        {
            case "digest": changed.Digest = "sha256:" + new string('0', 64); break;
            case "size": changed.Size++; break;
            case "pieceSize": changed.PieceSize /= 2; break;
            case "piece": changed.PieceDigests[1] = ByteString.CopyFrom(new byte[32]); break;
            case "order": (changed.PieceDigests[0], changed.PieceDigests[1]) = (changed.PieceDigests[1], changed.PieceDigests[0]); break;
            case "count": changed.PieceDigests.RemoveAt(1); break;
            // Length prefixes keep piece boundaries: 31 + 33 bytes are not 32 + 32.
            default:
                var all = changed.PieceDigests.SelectMany(d => d.ToByteArray()).ToArray();
                changed.PieceDigests[0] = ByteString.CopyFrom(all, 0, 31);
                changed.PieceDigests[1] = ByteString.CopyFrom(all, 31, 33);
                break;
        }

        Assert.NotEqual(ManifestSigning.BytesToSign(Registered()), ManifestSigning.BytesToSign(changed));
    }
}
