using System.Text;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

public sealed class AnnouncementTests
{
    private static Announcement Valid() => new()
    {
        Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        Name = "app.tar",
        Size = 5 * 1024 * 1024,
        PieceSize = 4 * 1024 * 1024,
        PieceCount = 2,
        Topic = "releases/app",
        Publisher = "agent-0123456789ab",
        CreatedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
        Labels = new() { ["arch"] = "arm64" },
    };

    [Fact]
    public void Json_RoundTripsWithCamelCaseFields()
    {
        var json = Valid().ToJsonUtf8();

        var text = Encoding.UTF8.GetString(json);
        var back = Announcement.TryParse(json, out var error);

        Assert.Null(error);
        Assert.NotNull(back);
        Assert.Contains("\"pieceSize\":4194304", text);
        Assert.Contains("\"version\":1", text);
        Assert.Equal(Valid().Digest, back.Digest);
        Assert.Equal("arm64", back.Labels["arch"]);
        Assert.Equal(Valid().CreatedAt, back.CreatedAt);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"digest\":")]
    [InlineData("[1,2]")]
    [InlineData("{\"version\":1}")]
    public void TryParse_MalformedJson_ReturnsAReason(string json)
    {
        var parsed = Announcement.TryParse(Encoding.UTF8.GetBytes(json), out var error);

        Assert.Null(parsed);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void TryParse_JsonNull_ReturnsAReason()
    {
        Assert.Null(Announcement.TryParse("null"u8, out var error));
        Assert.NotNull(error);
    }

    [Fact]
    public void Validate_WrongPieceCount_IsRejected()
    {
        var error = (Valid() with { PieceCount = 3 }).Validate();

        Assert.NotNull(error);
        Assert.Contains("piece count", error);
    }

    [Fact]
    public void Validate_ChecksEveryField()
    {
        Assert.Null(Valid().Validate());
        Assert.NotNull((Valid() with { Version = 2 }).Validate());
        Assert.NotNull((Valid() with { Digest = "sha256:abc" }).Validate());
        Assert.NotNull((Valid() with { Name = "../app.tar" }).Validate());
        Assert.NotNull((Valid() with { Topic = "releases/#" }).Validate());
        Assert.NotNull((Valid() with { Size = -1 }).Validate());
        Assert.NotNull((Valid() with { PieceSize = 1000 }).Validate());
    }

    private static readonly string[] ImageBlobs =
    [
        "sha256:" + new string('1', 64),
        "sha256:" + new string('2', 64),
        "sha256:" + new string('3', 64),
    ];

    /// <summary>What a succeeded preheat job announces: the image (index digest) and every blob digest, no pieces.</summary>
    private static Announcement Image() => new()
    {
        Digest = "sha256:" + new string('a', 64),
        Name = new string('a', 64),
        Size = 10 * 1024 * 1024 + 1234,
        Topic = "images/app",
        Publisher = "preheat-0123456789abcdef",
        CreatedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero),
        Labels = new()
        {
            [ImageBlobLabels.Kind] = ImageBlobLabels.ImageAnnouncement,
            [ImageBlobLabels.Image] = "registry.test/app:v1",
            [ImageBlobLabels.Platforms] = "linux/arm64",
        },
        Blobs = ImageBlobs,
    };

    [Fact]
    public void ImageAnnouncement_Json_RoundTripsTheBlobs_InOrder()
    {
        var json = Image().ToJsonUtf8();

        var text = Encoding.UTF8.GetString(json);
        var back = Announcement.TryParse(json, out var error);

        Assert.Null(error);
        Assert.NotNull(back);
        Assert.Contains($"\"blobs\":[\"{ImageBlobs[0]}\",\"{ImageBlobs[1]}\",\"{ImageBlobs[2]}\"]", text);
        Assert.Contains("\"dragonfly.io/kind\":\"image\"", text);
        Assert.Contains("\"pieceSize\":0", text);
        Assert.DoesNotContain("urlTask", text);
        Assert.Equal(ImageBlobs, back.Blobs);
        Assert.True(ImageBlobLabels.IsImage(back.Labels));
        Assert.False(ImageBlobLabels.IsImageBlob(back.Labels));
        Assert.Equal((Image().Digest, Image().Size, 0, 0), (back.Digest, back.Size, back.PieceSize, back.PieceCount));
    }

    [Fact]
    public void OrdinaryAnnouncement_Json_HasNoBlobs_AndReadsBackWithNone()
    {
        var text = Encoding.UTF8.GetString(Valid().ToJsonUtf8());
        var emptyList = Encoding.UTF8.GetString((Valid() with { Blobs = [] }).ToJsonUtf8());

        Assert.DoesNotContain("blobs", text);
        Assert.DoesNotContain("blobs", emptyList);
        Assert.Empty(Announcement.TryParse(Encoding.UTF8.GetBytes(text), out _)!.Blobs);
        Assert.Empty(Announcement.TryParse(Encoding.UTF8.GetBytes(text.Replace("\"labels\"", "\"blobs\":null,\"labels\"")), out _)!.Blobs);
    }

    [Fact]
    public void ImageAnnouncement_Validate_ChecksTheBlobs()
    {
        Assert.Null(Image().Validate());
        Assert.Contains("lists no blobs", (Image() with { Blobs = [] }).Validate());
        Assert.Contains("'sha256:abc' is not a sha256: content id", (Image() with { Blobs = [ImageBlobs[0], "sha256:abc"] }).Validate());
        Assert.Contains("not a sha256", (Image() with { Blobs = [ImageBlobs[0].ToUpperInvariant()] }).Validate());
        Assert.Contains($"blob {ImageBlobs[1]} is listed twice", (Image() with { Blobs = [.. ImageBlobs, ImageBlobs[1]] }).Validate());
        var many = Enumerable.Range(0, Announcement.MaxBlobs + 1).Select(i => "sha256:" + i.ToString("x64")).ToArray();
        Assert.Null((Image() with { Blobs = many[..Announcement.MaxBlobs] }).Validate());
        Assert.Contains($"at most {Announcement.MaxBlobs}", (Image() with { Blobs = many }).Validate());
    }

    [Fact]
    public void ImageAnnouncement_Validate_ChecksEveryOtherField()
    {
        Assert.NotNull((Image() with { Version = 2 }).Validate());
        Assert.NotNull((Image() with { Digest = "sha256:abc" }).Validate());
        Assert.NotNull((Image() with { Name = "../x" }).Validate());
        Assert.NotNull((Image() with { Topic = "images/#" }).Validate());
        Assert.NotNull((Image() with { Size = -1 }).Validate());
        Assert.Null((Image() with { Size = 0 }).Validate());
        // Not a task: no pieces, no URL-task fields.
        Assert.Contains("no pieces", (Image() with { PieceSize = 4 * 1024 * 1024, PieceCount = 3 }).Validate());
        Assert.Contains("no pieces", (Image() with { PieceCount = 1 }).Validate());
        Assert.Contains("not a task", (Image() with { UrlTask = true }).Validate());
        Assert.Contains("not a task", (Image() with { ContentDigest = ImageBlobs[0] }).Validate());
    }

    [Fact]
    public void OrdinaryAnnouncement_Validate_StaysAsStrict_AndRefusesBlobs()
    {
        // Without the image label, no pieces is as wrong as before, blobs or not.
        var unlabelled = Image() with { Labels = [] };
        Assert.Contains("out of range", (unlabelled with { Blobs = [] }).Validate());
        Assert.NotNull(unlabelled.Validate());
        Assert.Contains("only by an image announcement", (Valid() with { Blobs = ImageBlobs }).Validate());
        var blob = Valid() with { Labels = new() { [ImageBlobLabels.Kind] = ImageBlobLabels.ImageBlob } };
        Assert.Null(blob.Validate());
        Assert.Contains("out of range", (blob with { PieceSize = 0, PieceCount = 0 }).Validate());
        Assert.Contains("only by an image announcement", (blob with { Blobs = ImageBlobs }).Validate());
    }
}
