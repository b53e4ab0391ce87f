using System.Text;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

/// <summary>The bytes a broker signs and an agent rebuilds: the same after a trip through JSON, different for any field acted on.</summary>
public sealed class AnnouncementSigningTests
{
    private static Announcement Signed() => new()
    {
        Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Name = "app.tar",
        Size = 5 * 1024 * 1024,
        PieceSize = 4 * 1024 * 1024,
        PieceCount = 2,
        Topic = "releases/app",
        Publisher = "agent-0123456789ab",
        CreatedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, 678, TimeSpan.Zero),
        Labels = new() { ["arch"] = "arm64", ["os"] = "linux" },
        Sequence = 1_735_787_045_678,
        Signer = "Y2VydA==",
        Signature = "c2ln",
    };

    [Fact]
    public void BytesToSign_AreTheSameAfterJson_AndLeaveOutTheSignatureItself()
    {
        var json = Signed().ToJsonUtf8();
        var back = Announcement.TryParse(json, out var error);

        Assert.Null(error);
        Assert.Contains("\"sequence\":1735787045678", Encoding.UTF8.GetString(json), StringComparison.Ordinal);
        Assert.Equal(AnnouncementSigning.BytesToSign(Signed()), AnnouncementSigning.BytesToSign(back!));
        Assert.Equal(AnnouncementSigning.BytesToSign(Signed()), AnnouncementSigning.BytesToSign(Signed() with { Signature = "b3RoZXI=", Signer = null }));
        Assert.StartsWith(AnnouncementSigning.DomainTag + "\0", Encoding.ASCII.GetString(AnnouncementSigning.BytesToSign(Signed())), StringComparison.Ordinal);
    }

    [Fact]
    public void LabelOrder_DoesNotMatter()
    {
        var reordered = Signed() with { Labels = new() { ["os"] = "linux", ["arch"] = "arm64" } };

        Assert.Equal(AnnouncementSigning.BytesToSign(Signed()), AnnouncementSigning.BytesToSign(reordered));
    }

    public static TheoryData<string> Changes() => new() { "digest", "name", "topic", "size", "sequence", "createdAt", "label", "urlTask", "contentDigest", "blobs", "name/topic split" };

    [Theory]
    [MemberData(nameof(Changes))]
    public void AnyFieldAnAgentActsOn_ChangesTheBytes(string field)
    {
        var original = Signed();
        var changed = field switch
        {
            "digest" => original with { Digest = "sha256:" + new string('0', 64) },
            "name" => original with { Name = "evil.tar" },
            "topic" => original with { Topic = "releases/other" },
            "size" => original with { Size = original.Size + 1 },
            "sequence" => original with { Sequence = original.Sequence + 1 },
            "createdAt" => original with { CreatedAt = original.CreatedAt.AddYears(74) },
            "label" => original with { Labels = new() { ["arch"] = "amd64", ["os"] = "linux" } },
            "urlTask" => original with { UrlTask = true },
            "contentDigest" => original with { ContentDigest = original.Digest },
            "blobs" => original with { Blobs = [original.Digest] },
            // Length prefixes keep field boundaries: "releases/app" + "app.tar" is not "releases" + "app/app.tar".
            _ => original with { Topic = "releases", Name = "app/app.tar" },
        };

        Assert.NotEqual(AnnouncementSigning.BytesToSign(original), AnnouncementSigning.BytesToSign(changed));
    }
}
