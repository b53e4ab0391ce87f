using System.Text;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Platforms;

namespace Dragonfly.PubSub.Registry.Tests.Manifests;

public sealed class ManifestDocumentTests
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public void Parse_IndexWithoutMediaTypeField_IsRecognizedByShape()
    {
        var document = Parse($$$"""{"schemaVersion":2,"manifests":[{"mediaType":"{{{MediaTypes.DockerManifest}}}","digest":"{{{Digest}}}","size":7,"platform":{"os":"linux","architecture":"arm","variant":"v7"}}]}""");

        Assert.True(document.IsIndex);
        Assert.Equal(MediaTypes.OciIndex, document.MediaType);
        var child = Assert.Single(document.Manifests);
        Assert.Equal(Platform.Parse("linux/arm/v7"), child.Platform);
        Assert.Equal(7, child.Size);
    }

    [Fact]
    public void Parse_DockerManifestList_ByContentType()
    {
        var document = Parse("""{"schemaVersion":2,"manifests":[]}""", MediaTypes.DockerManifestList);

        Assert.Equal(MediaTypes.DockerManifestList, document.MediaType);
    }

    [Theory]
    [InlineData("""{"schemaVersion":1,"name":"x","fsLayers":[]}""", "schema 1 manifests are not supported")]
    [InlineData("""not json""", "not valid JSON")]
    [InlineData("""{"schemaVersion":2}""", "neither an image index nor an image manifest")]
    [InlineData("""{"schemaVersion":2,"config":{"digest":"sha512:abc","size":1},"layers":[]}""", "only sha256")]
    [InlineData("""{"schemaVersion":2,"config":{"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"layers":[]}""", "no valid size")]
    public void Parse_Unusable_SaysWhy(string json, string reason)
    {
        var error = Assert.Throws<FormatException>(() => Parse(json));

        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void ConfigPlatform_ReadsOsArchitectureAndVariant()
    {
        Assert.Equal(Platform.Parse("linux/arm/v6"), ManifestDocument.ParseConfigPlatform("""{"os":"linux","architecture":"arm","variant":"v6","rootfs":{}}"""u8));
        Assert.Throws<FormatException>(() => ManifestDocument.ParseConfigPlatform("""{"rootfs":{}}"""u8));
    }

    private static ManifestDocument Parse(string json, string? contentType = null) => ManifestDocument.Parse(Encoding.UTF8.GetBytes(json), contentType);
}
