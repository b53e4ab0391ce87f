namespace Dragonfly.PubSub.Origins.Tests;

public sealed class UrlTaskIdTests
{
    private const long PieceSize = 4 * 1024 * 1024;

    [Fact]
    public void SameObject_WithTwoDifferentSignatures_IsOneTask()
    {
        var first = new Uri("https://bucket.s3.amazonaws.com/releases/app.tar?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA1%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=aaaa");
        var second = new Uri("https://bucket.s3.amazonaws.com/releases/app.tar?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA2%2F20250102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250102T000000Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok&X-Amz-Signature=bbbb");
        var oss = new Uri("https://bucket.s3.amazonaws.com/releases/app.tar?OSSAccessKeyId=k&Expires=1&Signature=s");
        var v2 = new Uri("https://bucket.s3.amazonaws.com/releases/app.tar?AWSAccessKeyId=k&Expires=2&Signature=t");
        var unsigned = new Uri("https://bucket.s3.amazonaws.com/releases/app.tar");

        var id = UrlTaskId.Compute(first, PieceSize);

        Assert.Equal(id, UrlTaskId.Compute(second, PieceSize));
        Assert.Equal(id, UrlTaskId.Compute(oss, PieceSize));
        Assert.Equal(id, UrlTaskId.Compute(v2, PieceSize));
        Assert.Equal(id, UrlTaskId.Compute(unsigned, PieceSize));
        Assert.StartsWith("sha256:", id.ToString(), StringComparison.Ordinal);
        Assert.Equal(71, id.ToString().Length);
    }

    [Fact]
    public void TagOrPieceSize_ChangeTheId()
    {
        var url = new Uri("https://origin.example/app.tar");

        var plain = UrlTaskId.Compute(url, PieceSize);

        Assert.NotEqual(plain, UrlTaskId.Compute(url, PieceSize, tag: "v2"));
        Assert.NotEqual(UrlTaskId.Compute(url, PieceSize, tag: "v2"), UrlTaskId.Compute(url, PieceSize, tag: "v3"));
        Assert.NotEqual(plain, UrlTaskId.Compute(url, PieceSize * 2));
        Assert.Equal(plain, UrlTaskId.Compute(url, PieceSize, tag: ""));
    }

    [Fact]
    public void ParameterOrder_IsIrrelevant_ButParameterValuesAreNot()
    {
        var a = new Uri("https://origin.example/get?name=app&arch=arm64&X-Amz-Signature=1");
        var b = new Uri("https://origin.example/get?X-Amz-Signature=2&arch=arm64&name=app");
        var c = new Uri("https://origin.example/get?arch=amd64&name=app");

        Assert.Equal(UrlTaskId.Compute(a, PieceSize), UrlTaskId.Compute(b, PieceSize));
        Assert.NotEqual(UrlTaskId.Compute(a, PieceSize), UrlTaskId.Compute(c, PieceSize));
    }

    [Fact]
    public void FilterParameters_ExtendTheDefaults_CaseInsensitively()
    {
        var a = new Uri("https://origin.example/app.tar?token=abc&v=1");
        var b = new Uri("https://origin.example/app.tar?Token=xyz&v=1");

        Assert.NotEqual(UrlTaskId.Compute(a, PieceSize), UrlTaskId.Compute(b, PieceSize));
        Assert.Equal(UrlTaskId.Compute(a, PieceSize, filterParameters: ["token"]), UrlTaskId.Compute(b, PieceSize, filterParameters: ["token"]));
        Assert.Equal(UrlTaskId.Compute(new Uri("https://origin.example/app.tar?x-amz-signature=1"), PieceSize),
            UrlTaskId.Compute(new Uri("https://origin.example/app.tar"), PieceSize));
    }

    [Theory]
    [InlineData("HTTPS://Origin.Example:443/a%2fb/%7Euser/app.tar#fragment", "https://origin.example/a%2Fb/~user/app.tar")]
    [InlineData("https://user:secret@origin.example/app.tar", "https://origin.example/app.tar")]
    [InlineData("http://origin.example:8080", "http://origin.example:8080/")]
    [InlineData("https://origin.example/app.tar?b=2&a=1&Expires=9&&", "https://origin.example/app.tar?a=1&b=2")]
    [InlineData("s3://bucket/releases/app.tar?versionId=3", "s3://bucket/releases/app.tar?versionId=3")]
    public void Canonicalize_NormalisesWhatDoesNotNameADifferentObject(string url, string canonical)
    {
        Assert.Equal(canonical, UrlTaskId.Canonicalize(new Uri(url)));
    }

    [Fact]
    public void DifferentPathsOrHosts_AreDifferentTasks()
    {
        Assert.NotEqual(UrlTaskId.Compute(new Uri("https://a.example/app.tar"), PieceSize), UrlTaskId.Compute(new Uri("https://b.example/app.tar"), PieceSize));
        Assert.NotEqual(UrlTaskId.Compute(new Uri("https://a.example/app.tar"), PieceSize), UrlTaskId.Compute(new Uri("https://a.example/App.tar"), PieceSize));
        Assert.NotEqual(UrlTaskId.Compute(new Uri("http://a.example/app.tar"), PieceSize), UrlTaskId.Compute(new Uri("https://a.example/app.tar"), PieceSize));
    }

    [Fact]
    public void Compute_HashesLengthPrefixedFields_AsDocumented()
    {
        // Pinned values, computed independently (Python: SHA-256 over the big-endian int64
        // length-prefixed domain, canonical URL and tag, then the piece size as int64).
        // A change here changes every URL task id in the field: do it only on purpose.
        Assert.Equal("sha256:8c0ad59415a333b4e8211806a5f3d1991e868274b58173b0641c25a59a6b699d",
            UrlTaskId.Compute(new Uri("https://origin.example/app.tar?X-Amz-Signature=x"), PieceSize).ToString());
        Assert.Equal("sha256:4f3673094a71443677ba23e8aee32a6cf73242ecdf82d186356f2cae25e6f1db",
            UrlTaskId.Compute(new Uri("https://origin.example:443/app.tar"), PieceSize, tag: "v2").ToString());
    }
}
