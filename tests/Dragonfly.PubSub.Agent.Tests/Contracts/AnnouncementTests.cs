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
}
