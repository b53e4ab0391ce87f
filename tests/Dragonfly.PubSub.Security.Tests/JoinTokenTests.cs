namespace Dragonfly.PubSub.Security.Tests;

public sealed class JoinTokenTests
{
    [Fact]
    public void Create_FormatsAsDfj1_AndParsesBack()
    {
        using var ca = FleetCa.Create("ca");
        var token = JoinToken.Create(ca.Pin);

        var text = token.ToString();

        Assert.Matches("^dfj1\\.[0-9a-f]{12}\\.[A-Za-z0-9_-]{43}\\.[A-Za-z0-9_-]{43}$", text);
        Assert.True(JoinToken.TryParse(text, out var parsed, out var error), error);
        Assert.Equal(token, parsed);
        Assert.True(parsed.PinMatches(ca.Certificate));
    }

    [Fact]
    public void PinMatches_AnotherCa_IsFalse()
    {
        using var ca = FleetCa.Create("ca");
        using var other = FleetCa.Create("ca");
        Assert.False(JoinToken.Create(ca.Pin).PinMatches(other.Certificate));
    }

    [Theory]
    [InlineData("", "not a join token")]
    [InlineData("dfj2.0123456789ab.x.y", "not a join token")]
    [InlineData("dfj1.0123456789AB.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "id")]
    [InlineData("dfj1.0123456789ab.short.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "secret")]
    [InlineData("dfj1.0123456789ab.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=", "CA pin")]
    public void TryParse_Malformed_SaysWhichPart(string text, string expected)
    {
        Assert.False(JoinToken.TryParse(text, out _, out var error));
        Assert.Contains(expected, error);
        Assert.DoesNotContain("aaaaaaaaaa", error);
    }

    [Fact]
    public void SecretMatches_OnlyTheStoredHashOfItsOwnSecret()
    {
        var token = JoinToken.Create(new string('p', 43));
        var stored = JoinToken.HashSecret(token.Secret);

        Assert.NotEqual(token.Secret, stored);
        Assert.True(token.SecretMatches(stored));
        Assert.False(JoinToken.Create(token.CaPin).SecretMatches(stored));
    }
}
