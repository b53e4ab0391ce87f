using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Agent.Tests.Contracts;

public sealed class ArtifactNameTests
{
    [Theory]
    [InlineData("app.tar")]
    [InlineData("..app")]
    [InlineData("a b.bin")]
    public void Validate_AcceptsPlainFileNames(string name)
    {
        Assert.Null(ArtifactName.Validate(name));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("bad\nname")]
    public void Validate_RejectsPathsAndJunk(string? name)
    {
        Assert.NotNull(ArtifactName.Validate(name));
    }

    [Fact]
    public void Validate_RejectsOverlongNames()
    {
        Assert.NotNull(ArtifactName.Validate(new string('a', ArtifactName.MaxLength + 1)));
        Assert.Null(ArtifactName.Validate(new string('a', ArtifactName.MaxLength)));
    }
}
